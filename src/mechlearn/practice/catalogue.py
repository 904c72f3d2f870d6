"""Which functions of the package are exercises: one `Exercise` record each, in day order within a topic.

This module is pure data (it imports nothing heavy), so `mechlearn practice list`, the Exercises page and
`mechlearn check` read it in milliseconds. The cases that judge an exercise live in `cases_<topic>.py`, each
registered under the exercise's name with `@case("name")`; `tests/practice` runs every case against the package's
own implementation, so the exercises, the package and its tests cannot drift apart.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from mechlearn.project import MechlearnError

# the subpackage a target lives in -> its topic (mechlearn.project.TOPICS)
PACKAGE_TOPICS = {
    "mechlearn.backprop": "backprop",
    "mechlearn.transformers": "transformers",
    "mechlearn.rl": "rl",
    "mechlearn.interp": "interp",
}
DIFFICULTY = {1: "easy", 2: "medium", 3: "hard"}


@dataclass(frozen=True)
class Exercise:
    """Re-derive `target` ("mechlearn.pkg.module:qualname"), which day `day` of the log introduced."""

    name: str
    target: str
    day: int
    difficulty: int  # 1 easy, 2 medium, 3 hard
    summary: str  # one line: what to write
    hints: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.target.split(":")[0]

    @property
    def qualname(self) -> str:
        return self.target.split(":")[1]

    @property
    def attribute(self) -> str:
        """The name the learner's file must define: the function's, or the method's without its class."""
        return self.qualname.rsplit(".", 1)[-1]

    @property
    def is_method(self) -> bool:
        return "." in self.qualname

    @property
    def topic(self) -> str:
        return PACKAGE_TOPICS[".".join(self.module.split(".")[:2])]

    @property
    def file_name(self) -> str:
        """The stub's file name under practice/: the exercise's name, `.py` added."""
        return f"{self.name}.py"


def _ex(name: str, target: str, day: int, difficulty: int, summary: str, *hints: str) -> Exercise:
    return Exercise(name, target, day, difficulty, summary, tuple(hints))


BP, TF, RL, IN = "mechlearn.backprop", "mechlearn.transformers", "mechlearn.rl", "mechlearn.interp"

EXERCISES: tuple[Exercise, ...] = (
    # ---- backprop: the scalar engine, then the NumPy tensor engine ----------------------------------------------
    _ex(
        "Value.__mul__",
        f"{BP}.value:Value.__mul__",
        1,
        1,
        "Multiply two scalars and record the product rule for the backward pass.",
        "Lift a plain number with `Value._lift(other)` first.",
        "`out = Value(a * b, (self, other), '*')`; its `_backward` closure adds `other.data * out.grad` to "
        "`self.grad` (and the mirror image): `+=`, because a node used twice gets both contributions.",
    ),
    _ex(
        "Value.tanh",
        f"{BP}.value:Value.tanh",
        1,
        1,
        "tanh of a scalar, with its local derivative.",
        "d tanh(x)/dx = 1 - tanh(x)^2: reuse the output `out.data` instead of recomputing tanh.",
    ),
    _ex(
        "Value.backward",
        f"{BP}.value:Value.backward",
        1,
        2,
        "Fill `.grad` of every node the output depends on, in reverse topological order.",
        "Order the graph so each node comes after its children (`node._prev`), visiting a shared node once.",
        "Seed `self.grad = 1.0`, then call `node._backward()` from the output back to the leaves.",
        "Use an explicit stack rather than recursion: a 3000-node chain must not hit the recursion limit.",
    ),
    _ex(
        "unbroadcast",
        f"{BP}.tensor:unbroadcast",
        3,
        1,
        "Sum a gradient over the axes broadcasting added or stretched, back to the operand's shape.",
        "First sum over the leading axes the operand does not have (`grad.ndim - len(shape)` of them).",
        "Then sum with `keepdims=True` over every axis where `shape` has 1 and the gradient does not.",
    ),
    _ex(
        "Tensor.__truediv__",
        f"{BP}.tensor:Tensor.__truediv__",
        3,
        2,
        "Elementwise a / b with broadcasting, and both quotient-rule gradients.",
        "`self._binary(other, forward, backward, '/')` does the lifting and shape check; write `backward(g, a, b)`.",
        "d(a/b)/da = 1/b and d(a/b)/db = -a/b^2; pass each through `unbroadcast(..., x.shape)`.",
    ),
    _ex(
        "Tensor.__matmul__",
        f"{BP}.tensor:Tensor.__matmul__",
        4,
        3,
        "Batched matrix product with broadcast batch axes and 1-D operands, and its backward.",
        "C = A B gives dA = dC B^T and dB = A^T dC; transpose the last two axes with `np.swapaxes(x, -1, -2)`.",
        "Treat a 1-D left operand as a (1, k) row and a 1-D right operand as a (k, 1) column, then drop that axis.",
        "Broadcast batch axes must be summed away again: `unbroadcast(grad, x.shape)`.",
    ),
    _ex(
        "Tensor.sum",
        f"{BP}.tensor:Tensor.sum",
        2,
        1,
        "Sum over `axis` (None, an int or a tuple; `keepdims`) and send the adjoint back to every summand.",
        "Normalise the axes with the module's `_axes(axis, self.ndim)`.",
        "Backward: restore the reduced axes with `np.expand_dims` (unless keepdims), then `np.broadcast_to`.",
    ),
    _ex(
        "Tensor.max",
        f"{BP}.tensor:Tensor.max",
        5,
        2,
        "Maximum over `axis`; tied maxima share the adjoint equally, as `torch.amax` does.",
        "Keep `top = x.max(axis=axes, keepdims=True)`; the winners are `x == top`.",
        "Divide the adjoint by the number of winners in each reduced group.",
    ),
    _ex(
        "softmax",
        f"{BP}.functional:softmax",
        5,
        2,
        "Softmax along `axis` as one op with a hand-derived backward, stable for huge logits.",
        "Subtract the max along `axis` before `np.exp`: e^(x - max) <= 1 cannot overflow.",
        "Backward: dx = s * (g - sum(g * s, axis, keepdims=True)).",
        "Build the output with `Tensor._make(data, (x,), backward, 'softmax')`.",
    ),
    _ex(
        "log_softmax",
        f"{BP}.functional:log_softmax",
        5,
        2,
        "log softmax along `axis`, stable, with its backward.",
        "log softmax(x) = (x - max) - log(sum(exp(x - max))).",
        "Backward: dx = g - softmax(x) * sum(g, axis, keepdims=True).",
    ),
    _ex(
        "cross_entropy",
        f"{BP}.functional:cross_entropy",
        5,
        2,
        "Mean cross-entropy of logits (..., n_classes) against integer targets (...), as F.cross_entropy.",
        "Flatten to (N, C) rows; the loss is -mean(log_softmax[rows, targets]).",
        "Backward: (softmax - one_hot(targets)) / N, reshaped to the logits' shape and times the adjoint g.",
    ),
    _ex(
        "numerical_gradient",
        f"{BP}.gradcheck:numerical_gradient",
        1,
        1,
        "Central finite differences of a scalar function with respect to every element of every input.",
        "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps); perturb a float64 copy in place and restore it.",
        "Never change the caller's arrays.",
    ),
    _ex(
        "SGD._update",
        f"{BP}.optim:SGD._update",
        7,
        2,
        "One SGD step for parameter i: weight decay, momentum, Nesterov, exactly as torch.optim.SGD.",
        "g <- g + weight_decay * theta; the momentum buffer self.b[i] starts as a copy of g, then b = mu b + g.",
        "Nesterov steps along g + mu * b instead of b. Return the new theta.",
    ),
    _ex(
        "Adam._update",
        f"{BP}.optim:Adam._update",
        7,
        2,
        "One Adam step for parameter i, with bias correction, exactly as torch.optim.Adam.",
        "`theta, g = self._decay(theta, g)` first (AdamW overrides it).",
        "m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2 (in self.m[i], self.v[i]); step t is self.t.",
        "theta - lr * m_hat / (sqrt(v_hat) + eps), with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t).",
    ),
    _ex(
        "conv2d",
        f"{BP}.conv:conv2d",
        9,
        3,
        "2-D cross-correlation (N, C, H, W) * (O, C, kh, kw) with stride and padding, and its backward.",
        "The module's `_windows(x, (kh, kw), stride)` views every receptive field: (N, C, H_out, W_out, kh, kw).",
        "im2col: one row per window, then a single matmul with the kernel reshaped to (O, C*kh*kw).",
        "Backward for x: `_scatter_windows` adds each window's gradient back where it was read; crop the padding.",
    ),
    _ex(
        "max_pool2d",
        f"{BP}.conv:max_pool2d",
        9,
        2,
        "Max pooling with stride and -inf padding; the adjoint goes to each window's first maximum.",
        "Pad with `constant_values=-np.inf`, take `_windows`, flatten each window and `argmax` it.",
        "Backward: a one-hot of the argmax times g, scattered back with `_scatter_windows`.",
    ),
    _ex(
        "ray_triangle_solutions",
        f"{BP}.raytracing:ray_triangle_solutions",
        82,
        2,
        "(u, hit) for every ray against every triangle, as one batched 3x3 solve.",
        "Solve (-D, B - A, C - A) (u, s, v) = O - A; stack the three columns with `torch.stack(..., dim=-1)`.",
        "Repeat rays over triangles and triangles over rays with `einops.repeat` so the systems batch.",
        "A hit needs s, v >= 0, s + v <= 1 and u > 0; a singular matrix (det near 0) is a miss: swap in the "
        "identity before solving.",
    ),
    _ex(
        "batch_norm",
        f"{BP}.batchnorm:batch_norm",
        83,
        3,
        "BatchNorm's normalisation as one graph node, with the backward pass through the batch statistics.",
        "x_hat = (x - mean) / sqrt(var + eps) per channel (axes 0, 2, 3); y = gamma x_hat + beta.",
        "With batch statistics: dx = gamma / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat)).",
        "Without (evaluation mode) mean and var are constants: dx = gamma / sqrt(var + eps) * g.",
    ),
    _ex(
        "warmup_cosine",
        f"{BP}.schedules:warmup_cosine",
        85,
        1,
        "The learning rate at step t: linear warm-up from start_factor * lr to lr, then cosine decay to eta_min.",
        "Warm-up: lr * (start_factor + (1 - start_factor) * t / warmup) for t < warmup.",
        "Then eta_min + (lr - eta_min) (1 + cos(pi (t - warmup) / (total - warmup))) / 2.",
    ),
    _ex(
        "gaussian_kl_to_standard",
        f"{BP}.vae:gaussian_kl_to_standard",
        86,
        1,
        "KL(N(mu, diag sigma^2) || N(0, I)) from mu and log sigma, summed over the latent dimension.",
        "Per dimension: (mu^2 + sigma^2 - 1) / 2 - log sigma; sigma^2 = exp(2 log sigma).",
    ),
    _ex(
        "discriminator_loss",
        f"{BP}.gan:discriminator_loss",
        88,
        1,
        "-E[log D(x)] - E[log(1 - D(G(z)))] from the discriminator's logits on real and generated samples.",
        "1 - sigmoid(l) = sigmoid(-l); compute log sigmoid stably (the module's `log_sigmoid`).",
    ),
    # ---- transformers ------------------------------------------------------------------------------------------
    _ex(
        "scaled_dot_product_attention",
        f"{TF}.numpy_attention:scaled_dot_product_attention",
        12,
        2,
        "Z = softmax(Q K^T / sqrt(d_head) + M) V on NumPy Tensors; return Z and the pattern.",
        "Every line is a Tensor op (`@`, `.transpose(-1, -2)`, `masked_fill`, `softmax`): no backward to write.",
        "The causal mask hides keys after the query: `causal_mask(n_query, n_key)` and the module's IGNORE.",
    ),
    _ex(
        "causal_mask",
        f"{TF}.attention:causal_mask",
        13,
        1,
        "Fill the attention scores of keys after each query with IGNORE; query i sits at position offset + i.",
        "Compare `torch.arange(offset, offset + query_pos)[:, None]` with `torch.arange(key_pos)[None, :]`.",
        "`scores.masked_fill(mask, IGNORE)` returns a new tensor; do not change `scores` in place.",
    ),
    _ex(
        "Attention.forward",
        f"{TF}.attention:Attention.forward",
        14,
        3,
        "Multi-head causal self-attention in TransformerLens' shapes, caching q, k, v, scores, pattern, z, "
        "with an optional KV cache.",
        "Project with einops.einsum: 'batch pos d_model, n_heads d_model d_head -> batch pos n_heads d_head'.",
        "Scores 'batch n_heads query_pos key_pos', scaled by sqrt(d_head), then `causal_mask(scores, offset)`.",
        "With `kv`, append the new k, v along pos (`torch.cat(..., dim=1)`) and use offset = the old length.",
        "Finish with `linear(z_flat, W_O_flat, self.b_O)` (heads flattened) to match GPT-2's rounding.",
    ),
    _ex(
        "LayerNorm.forward",
        f"{TF}.layers:LayerNorm.forward",
        15,
        1,
        "LayerNorm over d_model with the biased variance, caching hook_scale and hook_normalized.",
        "scale = sqrt(mean((x - mean)^2) + cfg.layer_norm_eps), shape (batch, pos, 1).",
        "Write `cache[prefix + 'hook_scale']` and `cache[prefix + 'hook_normalized']` when cache is not None.",
    ),
    _ex(
        "gelu_new",
        f"{TF}.layers:gelu_new",
        16,
        1,
        "GPT-2's GELU, the tanh approximation.",
        "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).",
    ),
    _ex(
        "TransformerBlock.forward",
        f"{TF}.model:TransformerBlock.forward",
        15,
        2,
        "One pre-LayerNorm block: resid_mid = resid_pre + attn(ln1(x)); resid_post = resid_mid + mlp(ln2(...)).",
        "Read the block's modules: self.ln1, self.attn, self.ln2, self.mlp; cfg.attn_only has no MLP.",
        "Pass `cache` and `prefix + 'ln1.'`, `prefix + 'attn.'`, ... down, and cache hook_resid_pre/mid/post, "
        "hook_attn_out, hook_mlp_out under `prefix`.",
    ),
    _ex(
        "top_k_mask",
        f"{TF}.sampling:top_k_mask",
        18,
        1,
        "True for exactly the k largest logits of each row (ties broken as torch.topk breaks them).",
        "Scatter True at `logits.topk(k, dim=-1).indices` into a boolean zeros_like.",
    ),
    _ex(
        "top_p_mask",
        f"{TF}.sampling:top_p_mask",
        18,
        2,
        "Nucleus sampling's mask: the smallest set of most likely tokens whose probability reaches p.",
        "Sort the probabilities in decreasing order; keep a token while the mass *before* it is below p.",
        "Scatter the kept flags back to the unsorted order with the sort's indices.",
    ),
    _ex(
        "apply_frequency_penalty",
        f"{TF}.sampling:apply_frequency_penalty",
        18,
        1,
        "Subtract penalty x (count of each token in the text so far) from the logits.",
        "Count with `scatter_add_` along the vocabulary axis.",
    ),
    _ex(
        "beam_search",
        f"{TF}.sampling:beam_search",
        18,
        3,
        "Keep the num_beams best partial sequences by total log-probability; return the best and its score.",
        "Each step: scores[:, None] + log_softmax of every beam's last logits, flattened, then topk.",
        "Recover the beam and the token from the flat index with // and % by d_vocab.",
    ),
    # ---- reinforcement learning ------------------------------------------------------------------------------
    _ex(
        "BanditAgent.select",
        f"{RL}.bandits:BanditAgent.select",
        22,
        2,
        "Pick an arm per run: epsilon-greedy, or UCB (untried arms first), breaking ties at random.",
        "Use the module's `argmax_random_ties(x, rng)`; UCB adds c sqrt(ln t / N), infinite where N == 0.",
        "Epsilon-greedy: explore where `rng.random(n_runs) < self.epsilon`, with `rng.integers(k, size=n_runs)`.",
    ),
    _ex(
        "policy_evaluation_exact",
        f"{RL}.dynamic_programming:policy_evaluation_exact",
        23,
        2,
        "Solve the Bellman expectation equations V = r_pi + gamma P_pi V as a linear system.",
        "`policy_matrices(mdp, policy)` gives P_pi and r_pi.",
        "With gamma = 1 pin the terminal states to 0 and solve (I - gamma P_pi) V = r_pi on the others.",
    ),
    _ex(
        "MDP.q_from_v",
        f"{RL}.dynamic_programming:MDP.q_from_v",
        24,
        1,
        "One-step look-ahead Q(s, a) = R(s, a) + gamma sum_s' P(s'|s, a) V(s').",
        "`np.einsum('sat,t->sa', self.P, V)`.",
    ),
    _ex(
        "value_iteration",
        f"{RL}.dynamic_programming:value_iteration",
        24,
        2,
        "Apply the Bellman optimality backup until V moves by less than theta; return V and the change per sweep.",
        "V_new = mdp.q_from_v(V).max(axis=1); record max |V_new - V| every sweep.",
    ),
    _ex(
        "td_target",
        f"{RL}.dqn:td_target",
        26,
        1,
        "DQN's target y = r + gamma (1 - terminated) max_a' Q_target(s', a').",
        "`target_q.max(dim=1).values`; a terminal transition has nothing after it.",
    ),
    _ex(
        "linear_schedule",
        f"{RL}.dqn:linear_schedule",
        26,
        1,
        "Epsilon at step t: linear from start_e (t = 0) to end_e (t = duration), constant after.",
    ),
    _ex(
        "discounted_returns",
        f"{RL}.advantages:discounted_returns",
        27,
        1,
        "G_t = r_t + gamma G_{t+1} for one finished episode.",
        "Walk the rewards backwards.",
    ),
    _ex(
        "reinforce_loss",
        f"{RL}.policy_gradient:reinforce_loss",
        27,
        2,
        "REINFORCE's surrogate -mean(log pi(a|s) (G - b)) and the critic's 0.5 mean((V - G)^2).",
        "`_, logprob, _, value = agent.get_action_and_value(obs, actions)`.",
        "The baseline is detached: the policy's gradient must not flow into the critic.",
    ),
    _ex(
        "compute_gae",
        f"{RL}.advantages:compute_gae",
        28,
        2,
        "Generalised advantage estimation by one backward sweep over time-major rollouts.",
        "delta_t = r_t + gamma (1 - d_{t+1}) V_{t+1} - V_t; A_t = delta_t + gamma lambda (1 - d_{t+1}) A_{t+1}.",
        "At the last step the 'next' value and done are `next_value` and `next_done`.",
    ),
    _ex(
        "clipped_surrogate",
        f"{RL}.ppo:clipped_surrogate",
        29,
        1,
        "PPO's per-sample objective min(r A, clip(r, 1 - eps, 1 + eps) A), to be maximised.",
        "`torch.min` of the two terms and `torch.clamp` for the clip.",
    ),
    _ex(
        "ppo_loss",
        f"{RL}.ppo:ppo_loss",
        29,
        3,
        "The minibatch loss -L_clip + vf_coef L_V - ent_coef H, with advantage normalisation and value clipping.",
        "With args.norm_adv, normalise the advantages by their mean and (unbiased) std + 1e-8.",
        "Clipped value loss: 0.5 max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2).",
        "Return (loss, policy loss, value loss, mean entropy).",
    ),
    _ex(
        "kl_estimators",
        f"{RL}.ppo:kl_estimators",
        30,
        1,
        "The k1 = E[-log r] and k3 = E[(r - 1) - log r] estimators of KL(old || new).",
    ),
    _ex(
        "explained_variance",
        f"{RL}.ppo:explained_variance",
        30,
        1,
        "1 - Var[y - y_pred] / Var[y]; NaN when the targets are constant.",
    ),
    # ---- interpretability --------------------------------------------------------------------------------------
    _ex(
        "ablate_head_hook",
        f"{IN}.ablation:ablate_head_hook",
        33,
        1,
        "A hook_z hook: head `head` outputs `replacement` (broadcast over the batch) or zero.",
        "Clone z first: a hook must not change the activation it was given in place.",
    ),
    _ex(
        "previous_token_score",
        f"{IN}.scores:previous_token_score",
        35,
        1,
        "Mean attention each query q >= 1 puts on key q - 1, per head.",
        "Index the pattern with two aligned index tensors: `pattern[:, :, q, q - 1]`.",
    ),
    _ex(
        "duplicate_token_score",
        f"{IN}.scores:duplicate_token_score",
        35,
        1,
        "Mean attention each query of the second copy puts on the earlier copy of its own token, per head.",
        "Sequences are [BOS, t_1..t_L, t_1..t_L]: query q > L attends to q - L.",
    ),
    _ex(
        "induction_score",
        f"{IN}.scores:induction_score",
        35,
        1,
        "Mean attention each query of the second copy puts on the token after the earlier copy, per head.",
        "Query q > L attends to q - L + 1; average over the batch and those queries.",
    ),
    _ex(
        "composition_score",
        f"{IN}.circuits:composition_score",
        37,
        2,
        "||W_A W_B||_F / (||W_A||_F ||W_B||_F) for dense tensors or TransformerLens FactoredMatrix inputs.",
        "Wrap a dense tensor as `FactoredMatrix(W, torch.eye(W.shape[-1]))`; FactoredMatrix has `.norm()`.",
    ),
    _ex(
        "top1_copying_accuracy",
        f"{IN}.circuits:top1_copying_accuracy",
        37,
        1,
        "Fraction of source tokens (from `skip`) whose own logit is the largest in their row of the full OV circuit.",
        "`full_ov.AB[skip:, skip:]`, argmax per row, compare with arange.",
    ),
    _ex(
        "chance_accuracy",
        f"{IN}.probes:chance_accuracy",
        38,
        1,
        "Accuracy of always guessing the most common class.",
        "`torch.bincount`.",
    ),
    _ex(
        "logit_diff",
        f"{IN}.patching:logit_diff",
        39,
        1,
        "logit[answer] - logit[wrong] at the last position, averaged over the batch.",
        "`last.gather(-1, answer[:, None])`.",
    ),
    _ex(
        "logit_diff_direction",
        f"{IN}.patching:logit_diff_direction",
        40,
        1,
        "The residual direction W_U[:, answer] - W_U[:, wrong], one row per example.",
    ),
    _ex(
        "feature_dimensionality",
        f"{IN}.superposition_geometry:feature_dimensionality",
        47,
        1,
        "D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2 for every feature column of every instance (0 for W_i = 0).",
        "Normalise the columns (axis `d_hidden`), then one einsum gives every dot product W_i_hat . W_j.",
        "The sum over j includes j = i, whose term is ||W_i||^2: an isolated feature gets exactly 1.",
    ),
    _ex(
        "StandardSAE.encode",
        f"{IN}.sae:StandardSAE.encode",
        50,
        1,
        "The standard SAE's code: ReLU(W_enc^T (x - b_dec) + b_enc).",
        "`self.hidden_pre(x)` subtracts b_dec and applies the encoder; or write it out with W_enc (d_in, d_sae).",
    ),
    _ex(
        "TopKSAE.encode",
        f"{IN}.sae_variants:TopKSAE.encode",
        51,
        2,
        "Keep the k largest pre-activations of each input (ReLU'd), zero elsewhere.",
        "`pre.topk(self.cfg.k, dim=-1)` gives values and indices; `torch.zeros_like(pre).scatter(-1, idx, vals)`.",
    ),
)

BY_NAME: dict[str, Exercise] = {e.name: e for e in EXERCISES}


def get(name: str) -> Exercise:
    """The exercise called `name`, or a one-line error naming the closest ones."""
    if name in BY_NAME:
        return BY_NAME[name]
    close = difflib.get_close_matches(name, BY_NAME, n=3, cutoff=0.5)
    hint = f" (did you mean: {', '.join(close)}?)" if close else " (see: mechlearn practice list)"
    raise MechlearnError(f"no exercise called {name!r}{hint}")


def by_topic(topic: str | None = None) -> list[Exercise]:
    return [e for e in EXERCISES if topic is None or e.topic == topic]
