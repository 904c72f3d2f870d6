r"""A feature dashboard for one SAE latent, as self-contained HTML (ARENA 1.3.2; after Bricken et al. 2023's and
SAELens' dashboards, without their JavaScript).

A dashboard answers "what is this latent?" from three views [@bricken2023monosemanticity; @mcdougall2024sae]:

- **top-activating contexts**: the characters around the positions where the latent is largest, each character
  shaded by the latent's activation there (the position itself outlined); spaces and newlines are drawn as `·` and
  `↵` so that whitespace, which carries much of this corpus' structure, can be read;
- **the activation histogram** (a matplotlib figure, drawn by the notebook);
- **the logits the decoder direction promotes and suppresses** along the direct path to the unembedding.

The direct path of a direction $d$ added to the residual stream goes through the final LayerNorm
$\mathrm{LN}(x) = w \odot (x - \bar x)/\sigma(x) + b$ and the unembedding, and skips every later layer:
$$\Delta\text{logits} \approx \frac{1}{\sigma}\,\big((d - \bar d) \odot w\big)\, W_U .$$
Holding the LayerNorm's scale $\sigma$ fixed (passed as `scale` $= 1/\sigma$, e.g. its average over the text) is the
approximation: exact for an infinitesimal $d$ on a model whose later layers ignore it, and only a ranking otherwise.

The dashboard is one line of HTML shown through `IPython.display.Markdown` (a `text/html` output would make Quarto
load require.js from a CDN). Every character of text is escaped for both HTML and pandoc's Markdown reader, styles
are inline (no script, stylesheet or font is loaded from anywhere), and there are no tables, only `div`s. The
contexts sit in their own horizontally scrollable box, so a long line never widens the page on a phone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

VISIBLE = {" ": "·", "\n": "↵", "\t": "⇥"}  # whitespace drawn as a character (none of these occur in the corpus)


@dataclass
class Context:
    """The characters around one position and the latent's activation on each of them."""

    text: str  # the window's characters
    acts: list[float]  # the latent's activation at each character of `text`
    centre: int  # index in `text` of the position the window was taken around


@torch.no_grad()
def activations_along(
    model, tokens: Int[Tensor, " n"], hook: str, stride: int | None = None, batch_size: int = 256
) -> Float[Tensor, "n d_in"]:
    """The activation at `hook` for every character of a contiguous text, one row a character, so that latents line
    up with the text a dashboard shows. Windows of `n_ctx` characters overlap by `n_ctx - stride`; each character is
    read from the first window in which it has at least `n_ctx - stride` characters before it (the text's first
    window excepted), so every row sees at least that much context."""
    n_ctx = model.cfg.n_ctx
    stride = stride or n_ctx // 2
    starts = list(range(0, max(len(tokens) - n_ctx, 0) + 1, stride))
    if starts[-1] + n_ctx < len(tokens):
        starts.append(len(tokens) - n_ctx)
    rows = []
    for batch_starts in [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]:
        windows = torch.stack([tokens[s : s + n_ctx] for s in batch_starts])  # (batch, n_ctx)
        _, cache = model.run_with_cache(windows, names_filter=hook)
        rows += list(cache[hook])
    out, covered = [rows[0]], min(n_ctx, len(tokens))
    for start, acts in zip(starts[1:], rows[1:], strict=True):
        out.append(acts[covered - start :])  # the characters this window adds, each with >= n_ctx - stride before it
        covered = start + n_ctx
    return torch.cat(out)


def top_contexts(text: str, acts: Float[Tensor, " n"], k: int = 10, before: int = 15, after: int = 4) -> list[Context]:
    """The `k` positions where `acts` (aligned with `text`, one value a character) is largest, as `Context`s of
    `before` characters, the position and `after` characters. Positions at which the latent is zero are left out."""
    if len(acts) != len(text):
        raise ValueError(f"one activation per character: {len(acts)} activations for {len(text)} characters")
    values, positions = torch.topk(acts, min(k, len(acts)))
    contexts = []
    for value, pos in zip(values.tolist(), positions.tolist(), strict=True):
        if value <= 0:
            break
        start, stop = max(0, pos - before), min(len(text), pos + after + 1)
        contexts.append(Context(text[start:stop], acts[start:stop].tolist(), pos - start))
    return contexts


def escape(text: str) -> str:
    """`text` safe inside HTML *and* inside the Markdown that carries it to the page: every ASCII character other
    than a letter or digit becomes a numeric entity, so neither the HTML parser (`<`, `&`) nor pandoc's Markdown
    reader (`*`, `_`, backticks, `$`, `[`, `{`, smart quotes from `'` and `"`, `--`) can reinterpret corpus text."""
    return "".join(c if c.isalnum() or ord(c) > 127 else f"&#{ord(c)};" for c in text)


def visible_char(char: str) -> str:
    """`char` escaped, whitespace drawn as `·`, `↵`, `⇥`."""
    return escape(VISIBLE.get(char, char))


MONO = "font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace"  # single quotes: it sits inside style="..."


def context_html(context: Context, max_act: float) -> str:
    """One row: each character a `span` shaded by activation / `max_act`, the centre character outlined, whitespace
    in grey; the activation of each character is its tooltip (the `title` attribute, no script)."""
    spans = []
    for i, (char, act) in enumerate(zip(context.text, context.acts, strict=True)):
        alpha = min(max(act / max_act, 0.0), 1.0) if max_act > 0 else 0.0
        style = f"background:rgba(240,120,0,{0.75 * alpha:.2f})"  # at most 75% opaque: the character stays legible
        style += ";color:#888" if char in VISIBLE else ""
        style += ";outline:1.5px solid #000;font-weight:700" if i == context.centre else ""
        centre = ' class="ld-centre"' if i == context.centre else ""
        spans.append(f'<span{centre} style="{style}" title="{act:.2f}">{visible_char(char)}</span>')
    return "".join(spans)


def logit_effects(
    direction: Float[Tensor, " d_model"],
    W_U: Float[Tensor, "d_model d_vocab"],
    ln_w: Float[Tensor, " d_model"] | None = None,
    scale: float = 1.0,
) -> Float[Tensor, " d_vocab"]:
    r"""Direct-path logit change of adding `direction` before the final LayerNorm:
    $\text{scale} \cdot ((d - \bar d) \odot w) W_U$, the LayerNorm's $1/\sigma$ replaced by the constant `scale`."""
    centred = direction - direction.mean()
    if ln_w is not None:
        centred = centred * ln_w
    return scale * (centred @ W_U)


def _token_list(chars: list[str], values: list[float]) -> str:
    items = "".join(
        f'<span style="white-space:nowrap"><span style="{MONO};background:#eee;padding:0 .2em">{visible_char(c)}'
        f"</span> {v:+.2f}</span>"
        for c, v in zip(chars, values, strict=True)
    )
    return f'<span style="display:flex;flex-wrap:wrap;gap:.2em .8em;margin-bottom:.3em">{items}</span>'


def dashboard_html(
    title: str,
    contexts: list[Context],
    effects: Float[Tensor, " d_vocab"],
    vocab: list[str],
    stats: dict[str, str] | None = None,
    n_logits: int = 8,
) -> str:
    """The dashboard of one latent, as one line of HTML (for `IPython.display.Markdown`): its title and `stats`
    (name → formatted value), the top contexts shaded by activation (largest first) and the `n_logits` characters
    whose logits `effects` raises and lowers most. Styles are inline: the page needs no stylesheet. Inside the one
    outer `div` every element is a `span` (laid out as a block or flex box): pandoc wraps the inline content of each
    `div` in a paragraph, and one paragraph for the whole dashboard keeps the rows from being spaced apart."""
    max_act = max((max(c.acts) for c in contexts), default=0.0)
    rows = "".join(
        f'<span class="ld-row" style="display:block;white-space:pre;{MONO}"><span style="display:inline-block;'
        f'width:3.6em;color:#555">{c.acts[c.centre]:.2f}</span>{context_html(c, max_act)}</span>'
        for c in contexts
    )
    n_logits = min(n_logits, len(effects))
    up, down = torch.topk(effects, n_logits), torch.topk(-effects, n_logits)
    stat_line = " · ".join(f"{escape(k)} {escape(v)}" for k, v in (stats or {}).items())
    head = 'style="display:block;font-weight:600;margin-top:.2em"'
    return (
        '<div class="ld-dash" style="border:1px solid #ccc;border-radius:6px;padding:.6em .8em;margin:.6em 0;'
        'max-width:100%;box-sizing:border-box;font-size:.85rem;line-height:1.5">'
        f'<span style="display:block;font-weight:600">{escape(title)}</span>'
        f'<span style="display:block;color:#555;margin-bottom:.4em">{stat_line}</span>'
        '<span style="display:flex;flex-wrap:wrap;gap:.8em 1.6em">'
        f'<span style="display:block;flex:1 1 17em;min-width:0;overflow-x:auto"><span {head}>Top activations '
        f"(outlined: the position)</span>{rows}</span>"
        f'<span style="display:block;flex:1 1 12em;min-width:0"><span {head}>Promoted logits (direct path)</span>'
        f"{_token_list([vocab[i] for i in up.indices.tolist()], up.values.tolist())}"
        f"<span {head}>Suppressed logits</span>"
        f"{_token_list([vocab[i] for i in down.indices.tolist()], (-down.values).tolist())}</span></span></div>"
    )
