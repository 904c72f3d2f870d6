r"""Batched ray tracing with einops and `torch.linalg.solve` (ARENA 0.1).

A camera at the origin looks along $+x$ through a screen at $x = 1$; the ray through screen point $(1, y, z)$ is
$R(u) = O + u D$ with $O = 0$, $D = (1, y, z)$, so $u$ is the *depth* of a hit (its $x$ coordinate).

**Ray against triangle** $(A, B, C)$. A point of the triangle is $A + s(B - A) + v(C - A)$ with $s, v \ge 0$,
$s + v \le 1$. Setting it equal to $O + uD$ gives three linear equations in $(u, s, v)$:

$$\begin{pmatrix} -D & B - A & C - A \end{pmatrix} \begin{pmatrix} u \\ s \\ v \end{pmatrix} = O - A .$$

The ray hits when the system has a solution with $s, v \ge 0$, $s + v \le 1$ and $u > 0$ (in front of the camera);
a singular matrix means the ray is parallel to the triangle's plane and misses. Every ray against every triangle is
one batched `torch.linalg.solve`; the depth of a pixel is the smallest $u$ over the triangles it hits.

A ray against a segment in the $z = 0$ plane is the 2-D case: $O + uD = L_1 + v(L_2 - L_1)$, hit when $u \ge 0$ and
$0 \le v \le 1$.
"""

from __future__ import annotations

import math

import einops
import torch
from jaxtyping import Bool, Float
from torch import Tensor


def make_rays_1d(num_pixels: int, y_limit: float) -> Float[Tensor, "num_pixels points=2 dims=3"]:
    """Rays from the origin through `num_pixels` points (1, y, 0), y evenly spaced in [-y_limit, y_limit]."""
    rays = torch.zeros(num_pixels, 2, 3)
    rays[:, 1, 0] = 1.0
    rays[:, 1, 1] = torch.linspace(-y_limit, y_limit, num_pixels)
    return rays


def make_rays_2d(
    num_pixels_y: int, num_pixels_z: int, y_limit: float, z_limit: float
) -> Float[Tensor, "num_pixels points=2 dims=3"]:
    """One ray per pixel of a (num_pixels_y, num_pixels_z) screen at x = 1, row-major over (y, z)."""
    rays = torch.zeros(num_pixels_y * num_pixels_z, 2, 3)
    rays[:, 1, 0] = 1.0
    ys = torch.linspace(-y_limit, y_limit, num_pixels_y)
    zs = torch.linspace(-z_limit, z_limit, num_pixels_z)
    rays[:, 1, 1] = einops.repeat(ys, "y -> (y z)", z=num_pixels_z)
    rays[:, 1, 2] = einops.repeat(zs, "z -> (y z)", y=num_pixels_y)
    return rays


def intersect_rays_segments(
    rays: Float[Tensor, "nrays 2 3"], segments: Float[Tensor, "nsegments 2 3"]
) -> Bool[Tensor, " nrays"]:
    """Whether each ray (in the z = 0 plane) hits any segment."""
    O, D = rays[:, None, 0, :2], rays[:, None, 1, :2]  # (nrays, 1, 2)
    L1, L2 = segments[None, :, 0, :2], segments[None, :, 1, :2]  # (1, nsegments, 2)
    D, L1, L2 = torch.broadcast_tensors(D, L1, L2)
    mat = torch.stack([D, L1 - L2], dim=-1)  # (nrays, nsegments, 2, 2): columns D and L1 - L2
    singular = mat.det().abs() < 1e-8
    mat[singular] = torch.eye(2)
    u, v = torch.linalg.solve(mat, (L1 - O)).unbind(-1)
    return ((u >= 0) & (v >= 0) & (v <= 1) & ~singular).any(dim=1)


def ray_triangle_solutions(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"]
) -> tuple[Float[Tensor, "nrays ntriangles"], Bool[Tensor, "nrays ntriangles"]]:
    """(u, hit) for every ray against every triangle: u is the distance along D, hit says whether the ray meets
    the triangle in front of the camera."""
    O = einops.repeat(rays[:, 0], "nrays dims -> nrays ntriangles dims", ntriangles=triangles.shape[0])
    D = einops.repeat(rays[:, 1], "nrays dims -> nrays ntriangles dims", ntriangles=triangles.shape[0])
    A, B, C = (einops.repeat(triangles[:, k], "ntri dims -> nrays ntri dims", nrays=rays.shape[0]) for k in range(3))
    mat = torch.stack([-D, B - A, C - A], dim=-1)  # (nrays, ntriangles, 3, 3), columns -D, B - A, C - A
    singular = mat.det().abs() < 1e-9
    mat[singular] = torch.eye(3)
    u, s, v = torch.linalg.solve(mat, O - A).unbind(-1)
    hit = (s >= 0) & (v >= 0) & (s + v <= 1) & (u > 0) & ~singular
    return u, hit


def raytrace(
    rays: Float[Tensor, "nrays 2 3"], triangles: Float[Tensor, "ntriangles 3 3"], chunk: int = 512
) -> tuple[Float[Tensor, " nrays"], Tensor]:
    """(depth, index of the nearest triangle hit) per ray; depth is inf and index -1 where nothing is hit. Rays go
    through in chunks so that the (rays x triangles x 3 x 3) systems fit in memory."""
    depths, indices = [], []
    for part in rays.split(chunk):
        u, hit = ray_triangle_solutions(part, triangles)
        u = torch.where(hit, u, torch.inf)
        depth, index = u.min(dim=1)
        depths.append(depth)
        indices.append(torch.where(depth.isfinite(), index, -1))
    return torch.cat(depths), torch.cat(indices)


def uv_sphere(
    n_lat: int, n_lon: int, radius: float = 1.0, center: tuple[float, float, float] = (3.0, 0.0, 0.0)
) -> Float[Tensor, "ntriangles 3 3"]:
    """A sphere meshed by latitude/longitude: vertices on the sphere, two triangles per quad (one at the poles)."""
    theta = torch.linspace(0, math.pi, n_lat + 1)  # polar angle, 0 at the north pole
    phi = torch.linspace(0, 2 * math.pi, n_lon + 1)
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    xyz = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], dim=-1) * radius + torch.tensor(center)
    tris = []
    for i in range(n_lat):
        for j in range(n_lon):
            a, b, c, d = xyz[i, j], xyz[i, j + 1], xyz[i + 1, j], xyz[i + 1, j + 1]
            if i > 0:
                tris.append(torch.stack([a, b, d]))
            if i < n_lat - 1:
                tris.append(torch.stack([a, d, c]))
    return torch.stack(tris)


def sphere_depth(
    rays: Float[Tensor, "nrays 2 3"], radius: float = 1.0, center: tuple[float, float, float] = (3.0, 0.0, 0.0)
) -> Float[Tensor, " nrays"]:
    r"""The analytic answer: the smallest $u > 0$ with $\lVert O + uD - c\rVert = r$, i.e. the smaller root of
    $\lVert D\rVert^2 u^2 + 2 D\cdot(O - c)\, u + \lVert O - c\rVert^2 - r^2 = 0$; inf where the ray misses."""
    O, D = rays[:, 0].double(), rays[:, 1].double()
    oc = O - torch.tensor(center, dtype=torch.float64)
    a, b, c = (D * D).sum(-1), 2 * (D * oc).sum(-1), (oc * oc).sum(-1) - radius**2
    disc = b * b - 4 * a * c
    u = (-b - disc.clamp(min=0).sqrt()) / (2 * a)
    return torch.where((disc >= 0) & (u > 0), u, torch.inf).float()


def lambert_shading(
    rays: Float[Tensor, "nrays 2 3"],
    triangles: Float[Tensor, "ntriangles 3 3"],
    index: Tensor,
    light: tuple[float, float, float] = (-1.0, 1.0, 1.0),
) -> Float[Tensor, " nrays"]:
    r"""Diffuse brightness $\max(0, n \cdot l)$ of the facet each ray hits (0 where it hits nothing), for a light in
    direction $l$. The facet normal $n = (B - A) \times (C - A) / \lVert\cdot\rVert$ is flipped to face the viewer
    ($n \cdot D < 0$), since a mesh's winding order need not be consistent."""
    normals = torch.linalg.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    n = (normals / normals.norm(dim=-1, keepdim=True))[index.clamp(min=0)]  # (nrays, 3)
    n = torch.where(((n * rays[:, 1]).sum(-1) > 0)[:, None], -n, n)
    to_light = torch.tensor(light) / torch.tensor(light).norm()
    return torch.where(index >= 0, (n @ to_light).clamp(min=0), 0.0)
