"""Batched ray tracing against hand-worked intersections, a per-ray loop and the analytic sphere."""

import math

import torch
from mechlearn.backprop.raytracing import (
    intersect_rays_segments,
    lambert_shading,
    make_rays_1d,
    make_rays_2d,
    ray_triangle_solutions,
    raytrace,
    sphere_depth,
    uv_sphere,
)


def ray(d):
    return torch.tensor([[0.0, 0.0, 0.0], d])


def test_segments_hit_miss_and_parallel_by_hand():
    rays = torch.stack([ray([1.0, 0.0, 0.0]), ray([1.0, 0.5, 0.0])])
    crossing = torch.tensor([[[1.0, -1.0, 0.0], [1.0, 1.0, 0.0]]])  # x = 1, y in [-1, 1]: both rays cross it
    assert intersect_rays_segments(rays, crossing).tolist() == [True, True]
    above = torch.tensor([[[1.0, 1.0, 0.0], [1.0, 2.0, 0.0]]])  # y in [1, 2] at x = 1: the rays pass below it
    assert intersect_rays_segments(rays, above).tolist() == [False, False]
    behind = torch.tensor([[[-1.0, -1.0, 0.0], [-1.0, 1.0, 0.0]]])  # behind the camera (u < 0)
    assert intersect_rays_segments(rays, behind).tolist() == [False, False], "u >= 0 is not enforced"
    parallel = torch.tensor([[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]])  # along the first ray: singular, counted a miss
    assert intersect_rays_segments(rays[:1], parallel).tolist() == [False]


def test_triangle_depth_by_hand():
    """A triangle in the plane x = 2 around the x axis: the straight-ahead ray hits at u = 2; a ray aimed past its
    edge misses; one aimed at its corner region inside hits at the same depth."""
    tri = torch.tensor([[[2.0, -1.0, -1.0], [2.0, 1.0, -1.0], [2.0, -1.0, 1.0]]])
    rays = torch.stack([ray([1.0, 0.0, 0.0]), ray([1.0, 0.4, 0.4]), ray([1.0, -0.4, -0.4])])
    u, hit = ray_triangle_solutions(rays, tri)
    assert hit[:, 0].tolist() == [True, False, True]
    torch.testing.assert_close(u[hit], torch.tensor([2.0, 2.0]))


def test_batched_triangles_equal_a_loop_over_rays_and_triangles():
    """The batched solve against one 3x3 system per (ray, triangle) pair, on random rays and triangles."""
    g = torch.Generator().manual_seed(0)
    rays = make_rays_2d(6, 5, 0.5, 0.5)
    tris = torch.rand(12, 3, 3, generator=g) * 2 - 1 + torch.tensor([2.0, 0.0, 0.0])
    u, hit = ray_triangle_solutions(rays, tris)
    for r in range(len(rays)):
        O, D = rays[r]
        for t in range(len(tris)):
            A, B, C = tris[t]
            u_rt, s, v = torch.linalg.solve(torch.stack([-D, B - A, C - A], dim=1), O - A)
            expected = bool(s >= 0 and v >= 0 and s + v <= 1 and u_rt > 0)
            assert hit[r, t].item() == expected, (r, t)
            if expected:
                assert abs(u[r, t].item() - u_rt.item()) < 1e-5


def test_depth_is_the_nearest_hit_not_the_first_triangle():
    near = torch.tensor([[2.0, -1.0, -1.0], [2.0, 1.0, -1.0], [2.0, -1.0, 1.0]])
    far = near + torch.tensor([3.0, 0.0, 0.0])
    depth, index = raytrace(ray([1.0, 0.0, 0.0])[None], torch.stack([far, near]))
    assert depth.tolist() == [2.0] and index.tolist() == [1]
    depth, index = raytrace(ray([1.0, 5.0, 0.0])[None], torch.stack([far, near]))
    assert depth.isinf().all() and index.tolist() == [-1]


def test_rays_2d_are_row_major_over_y_then_z():
    rays = make_rays_2d(3, 4, 1.0, 2.0)
    assert rays.shape == (12, 2, 3) and (rays[:, 0] == 0).all() and (rays[:, 1, 0] == 1).all()
    assert rays[4 * 2 + 1, 1, 1].item() == 1.0 and abs(rays[4 * 2 + 1, 1, 2].item() - (-2 / 3)) < 1e-6
    torch.testing.assert_close(make_rays_1d(3, 2.0)[:, 1, 1], torch.tensor([-2.0, 0.0, 2.0]))


def test_mesh_sphere_sits_inside_the_true_sphere_and_converges_quadratically():
    """Vertices on the sphere make an inscribed mesh: a ray can only hit it where it hits the sphere, and no nearer
    than the sphere. Halving the facet size cuts the mean depth error about fourfold (chord error ~ h^2)."""
    rays = make_rays_2d(24, 24, 0.4, 0.4)
    truth = sphere_depth(rays)
    errors = []
    for n_lat, n_lon in [(6, 12), (12, 24)]:
        depth, _ = raytrace(rays, uv_sphere(n_lat, n_lon))
        assert not (depth.isfinite() & truth.isinf()).any(), "a ray hits the mesh outside the sphere"
        both = depth.isfinite() & truth.isfinite()
        assert (depth[both] >= truth[both] - 1e-5).all(), "the mesh is nearer than the sphere it is inscribed in"
        errors.append((depth[both] - truth[both]).mean().item())
    assert errors[0] / errors[1] > 3, f"mean depth error {errors}: not quadratic in the facet size"


def test_sphere_depth_by_hand():
    """Straight ahead at a unit sphere centred at x = 3: depth 2; aimed above it: no hit."""
    rays = torch.stack([ray([1.0, 0.0, 0.0]), ray([1.0, 0.0, 1.0])])
    assert sphere_depth(rays)[0].item() == 2.0 and sphere_depth(rays)[1].isinf()
    grazing = ray([1.0, 0.0, math.tan(math.asin(1 / 3)) * 0.999])[None]
    assert sphere_depth(grazing).isfinite().all()


def test_lambert_shading_faces_the_viewer_and_is_dark_away_from_the_light():
    """A facet in the plane x = 2 seen from the origin: lit head-on from the camera's side it has brightness 1,
    whichever way its vertices wind; lit from behind it is dark; a missed ray is 0."""
    tri = torch.tensor([[[2.0, -1.0, -1.0], [2.0, 1.0, -1.0], [2.0, -1.0, 1.0]]])
    rays = torch.stack([ray([1.0, 0.0, 0.0]), ray([1.0, 5.0, 0.0])])
    for winding in (tri, tri[:, [0, 2, 1]]):
        _, index = raytrace(rays, winding)
        assert lambert_shading(rays, winding, index, light=(-1.0, 0.0, 0.0)).tolist() == [1.0, 0.0]
        assert lambert_shading(rays, winding, index, light=(1.0, 0.0, 0.0)).tolist() == [0.0, 0.0]
