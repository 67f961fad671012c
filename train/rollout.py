"""Fast GRPO rollouts for Qwen2.5-VL: each prompt (with its video) is prefilled once and its KV cache shared by all of
its rollouts; every row then decodes together, one step per CUDA-graph replay.

Why: HF `generate` on 8 rows of a 128-frame prompt made 132.9 tokens/s on an H200 (~4% of the memory-bandwidth bound):
each rollout row carries its own copy of the video and its own ~4,300-token cache, and each of the ~900 kernels of a
decode step is launched from Python. Here:

- prefill: one forward per distinct (prompt, video), with the video tensors and `mm_token_type_ids`, as in HF; its
  rope delta (Qwen2.5-VL's 3-D positions) gives every later text token the same position HF would give it;
- prefix sharing: the prompt's K/V is stored once; each decode step attends to it with a varlen flash-attention call
  whose per-prompt query block holds all of that prompt's rollouts (so the prefix is read once per step, not once
  per row), attends to each row's own completion cache in a second call, and merges the two by log-sum-exp;
- a static cache and state (token, step, done flags on the device), so one decode step is captured as a CUDA graph
  and replayed; sampling is exact (Gumbel-max over logits / temperature) and runs in the graph; vision placeholder
  tokens are suppressed as in `generate(suppress_tokens=...)`.

The layers are called through their own modules (norms, projections, MLP), so a peft LoRA adapter is applied as in
training. On a CPU (the tests) the same steps run eagerly with a masked math attention; greedy tokens equal HF
`generate`'s. Supported: Qwen2.5-VL; sampling with temperature only (no top-k/top-p/min-p/repetition penalty).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch

SUPPORTED = ("qwen2_5_vl",)
PER_VIDEO = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


@dataclass
class Rollouts:
    tokens: list[list[int]]          # per row: the completion up to and including its first EOS
    logps: list[list[float]] | None  # per row: log p(token) under raw logits / temperature (record_logps)
    prefill_s: float
    decode_s: float
    decode_steps: int
    attention: str                   # "flash-varlen" or "math"
    cuda_graph: bool
    graph_error: str | None = None   # why a CUDA graph could not be captured (the steps then ran eagerly)


def parts(model):
    """(the HF Qwen2.5-VL model, its text model) under a peft wrapper or not; a clear error for other families."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    kind = getattr(base.config, "model_type", None)
    if kind not in SUPPORTED:
        raise ValueError(f"fast rollouts support {SUPPORTED}; model type {kind!r} uses HF generate")
    return base, base.model.language_model


def groups_of(prompt_ids: list[list[int]], videos: list[dict]) -> list[tuple[int, int]]:
    """Consecutive rows with the same prompt and video share one prefix: [(start, end), ...]."""
    out, start = [], 0
    for i in range(1, len(prompt_ids) + 1):
        if i == len(prompt_ids) or prompt_ids[i] != prompt_ids[start] or not _same_video(videos[i], videos[start]):
            out.append((start, i))
            start = i
    return out


def _same_video(a: dict, b: dict) -> bool:
    return a is b or (a.keys() == b.keys() and all(torch.equal(torch.as_tensor(a[k]), torch.as_tensor(b[k]))
                                                   for k in a))


def _cache_kv(cache, layer: int):
    if hasattr(cache, "layers"):
        return cache.layers[layer].keys, cache.layers[layer].values
    if hasattr(cache, "key_cache"):
        return cache.key_cache[layer], cache.value_cache[layer]
    return cache[layer][0], cache[layer][1]


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


def _flash(q, k, v, cu_q, cu_k, max_q, max_k, used_k, scale):
    """Varlen flash attention (GQA native): output [total_q, heads, dim] and log-sum-exp [total_q, heads]."""
    out, lse = torch.ops.aten._flash_attention_forward(q, k, v, cu_q, cu_k, max_q, max_k, 0.0, False, False,
                                                       scale=scale, seqused_k=used_k)[:2]
    if lse.dim() == 2:  # [heads, total_q]
        return out, lse.transpose(0, 1)
    return out, lse  # padded layout; converted by the caller


_FLASH: dict = {}


def _flash_works(device, dtype, nh, nkv, hd) -> bool:
    """Whether this torch's varlen flash attention (GQA, seqused_k, log-sum-exp) runs and matches a math reference."""
    key = (str(device), dtype, nh, nkv, hd)
    if key not in _FLASH:
        try:
            g = torch.Generator(device=device).manual_seed(0)
            q = torch.randn(6, nh, hd, device=device, dtype=dtype, generator=g)
            k, v = (torch.randn(2 * 40, nkv, hd, device=device, dtype=dtype, generator=g) for _ in range(2))
            i32 = dict(dtype=torch.int32, device=device)
            out, lse = _flash(q, k, v, torch.tensor([0, 2, 6], **i32), torch.tensor([0, 40, 80], **i32), 4, 40,
                              torch.tensor([33, 17], **i32), hd ** -0.5)
            ok = lse.dim() == 2
            for r, (b, n) in enumerate([(0, 33), (0, 33), (1, 17), (1, 17), (1, 17), (1, 17)]):
                kk = k[b * 40:b * 40 + n].float().repeat_interleave(nh // nkv, 1)
                vv = v[b * 40:b * 40 + n].float().repeat_interleave(nh // nkv, 1)
                s = torch.einsum("hd,lhd->hl", q[r].float(), kk) * hd ** -0.5
                ok &= torch.allclose(torch.einsum("hl,lhd->hd", s.softmax(-1), vv), out[r].float(), atol=2e-2)
                ok &= torch.allclose(s.logsumexp(-1), lse[r].float(), atol=2e-2)
            _FLASH[key] = bool(ok)
        except (RuntimeError, TypeError):
            _FLASH[key] = False
    return _FLASH[key]


class FastRollout:
    """Rollout engine. `generate(prompt_ids, videos, max_new)`; rows of one prompt must be consecutive."""

    def __init__(self, model, eos_ids: list[int], pad_id: int, suppress_ids=(), temperature: float = 1.0,
                 cuda_graph: bool = True, attention: str = "auto", mm_token_type_ids=None):
        self.model, (self.base, self.lm) = model, parts(model)
        self.eos_ids, self.pad_id, self.suppress = list(eos_ids), pad_id, sorted(set(suppress_ids))
        self.temperature, self.cuda_graph, self.attention = float(temperature), cuda_graph, attention
        self.mm_fn = mm_token_type_ids
        cfg = self.lm.config
        self.nh, self.nkv = cfg.num_attention_heads, cfg.num_key_value_heads
        self.hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.scale = self.hd ** -0.5

    # ---- helpers --------------------------------------------------------------------------------------------------
    def _mm(self, ids: torch.Tensor) -> torch.Tensor:
        if self.mm_fn is not None:
            return torch.tensor(self.mm_fn(ids.tolist()), dtype=torch.long, device=ids.device)
        c = self.base.config
        return (ids == c.image_token_id).long() + 2 * (ids == c.video_token_id).long()

    def _autocast(self, device):
        dtype = self.lm.embed_tokens.weight.dtype
        if device.type == "cuda" and dtype in (torch.bfloat16, torch.float16):
            return torch.autocast("cuda", dtype=dtype, cache_enabled=False)  # no weight-cast cache under graphs
        return contextlib.nullcontext()

    def _sample(self, logits: torch.Tensor, record: bool):
        """Next tokens (Gumbel-max = exact sampling from softmax(logits / T); argmax when T == 0) and log-probs."""
        logits = logits.float()
        scaled = logits / self.temperature if self.temperature > 0 else logits
        lp = None
        if record:  # raw logits / temperature, as generation-time log-probs are recorded in train.video_grpo
            lp = scaled.logsumexp(-1)
        if self.suppress:
            scaled = scaled.index_fill(1, self._suppress_t, float("-inf"))
        if self.temperature > 0:
            tok = (scaled - torch.empty_like(scaled).exponential_().log()).argmax(-1)
        else:
            tok = scaled.argmax(-1)
        if record:
            lp = (logits / (self.temperature if self.temperature > 0 else 1.0)).gather(1, tok[:, None])[:, 0] - lp
        return tok, lp

    # ---- prefill --------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _prefill(self, prompt_ids, videos, groups, device):
        """One forward per group: fills the shared prefix cache; returns each group's last logits and rope delta."""
        n_layers, lens = len(self.lm.layers), [len(prompt_ids[a]) for a, _ in groups]
        dtype = self.lm.embed_tokens.weight.dtype
        shape = (len(groups), self.nkv, max(lens), self.hd)
        self.pk = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.pv = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        last, deltas = [], []
        for g, (a, _) in enumerate(groups):
            ids = torch.tensor([prompt_ids[a]], device=device)
            fields = {k: torch.as_tensor(videos[a][k]).to(device) for k in PER_VIDEO if k in videos[a]}
            with self._autocast(device):
                out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=self._mm(ids),
                                 use_cache=True, logits_to_keep=1, **fields)
            for layer in range(n_layers):
                k, v = _cache_kv(out.past_key_values, layer)
                self.pk[layer][g, :, :lens[g]] = k[0]
                self.pv[layer][g, :, :lens[g]] = v[0]
            delta = getattr(out, "rope_deltas", None)
            delta = self.base.model.rope_deltas if delta is None else delta
            deltas.append(int(torch.as_tensor(delta).reshape(-1)[0]) if delta is not None else 0)
            last.append(out.logits[0, -1].float())
            del out
        return torch.stack(last), lens, deltas

    # ---- decode ---------------------------------------------------------------------------------------------------
    def _attend(self, layer: int, q: torch.Tensor) -> torch.Tensor:
        """Attention of each row's query to its prompt's shared prefix and to its own completion so far."""
        B, rep = q.size(0), self.nh // self.nkv
        if self.use_flash:  # one sequence per (prompt, kv head) / (row, kv head): each K/V block is read once
            flat = q.reshape(B * self.nh, 1, self.hd)
            pk, pv = (x[layer].view(-1, 1, self.hd) for x in (self.pk, self.pv))
            o1, l1 = _flash(flat[self.perm], pk, pv, self.cu_q, self.cu_kp, self.max_group * rep,
                            self.pk[layer].size(2), self.lens_t, self.scale)
            o1 = torch.empty_like(o1).index_copy_(0, self.perm, o1).view(B, self.nh, self.hd)
            l1 = torch.empty_like(l1).index_copy_(0, self.perm, l1).view(B, self.nh)
            sk, sv = (x[layer].view(-1, 1, self.hd) for x in (self.sk, self.sv))
            used = (self.step + 1).to(torch.int32).expand(B * self.nkv).contiguous()
            o2, l2 = _flash(flat, sk, sv, self.cu_rows, self.cu_ks, rep, self.sk[layer].size(2), used, self.scale)
            o2, l2 = o2.view(B, self.nh, self.hd), l2.reshape(B, self.nh)
        else:
            qg = q.float().view(B, self.nkv, self.nh // self.nkv, self.hd)
            k1 = self.pk[layer].float()[self.row_group]                         # [B, kv, Lp, d]
            s1 = torch.einsum("bkrd,bkld->bkrl", qg, k1) * self.scale
            s1 = s1.masked_fill(~self.prefix_valid[:, None, None, :], float("-inf"))
            l1 = s1.logsumexp(-1)
            o1 = torch.einsum("bkrl,bkld->bkrd", torch.softmax(s1, -1), self.pv[layer].float()[self.row_group])
            s2 = torch.einsum("bkrd,bksd->bkrs", qg, self.sk[layer].float()) * self.scale
            valid = torch.arange(s2.size(-1), device=q.device) <= self.step
            s2 = s2.masked_fill(~valid, float("-inf"))
            l2 = s2.logsumexp(-1)
            o2 = torch.einsum("bkrs,bksd->bkrd", torch.softmax(s2, -1), self.sv[layer].float())
            o1, o2 = o1.reshape(B, self.nh, self.hd), o2.reshape(B, self.nh, self.hd)
            l1, l2 = l1.reshape(B, self.nh), l2.reshape(B, self.nh)
        m = torch.maximum(l1, l2)
        w1, w2 = (l1 - m).exp()[..., None], (l2 - m).exp()[..., None]
        return ((o1.float() * w1 + o2.float() * w2) / (w1 + w2)).to(q.dtype)

    def _step(self):
        """One decode step for every row, on device state only (capturable as a CUDA graph)."""
        B, lm = self.tok.size(0), self.lm
        x = lm.embed_tokens(self.tok)
        freqs = (self.pos0 + self.step).float()[:, None] * lm.rotary_emb.inv_freq.float()[None]
        emb = torch.cat((freqs, freqs), -1)
        scaling = getattr(lm.rotary_emb, "attention_scaling", 1.0)
        cos, sin = (emb.cos() * scaling).to(x.dtype)[:, None], (emb.sin() * scaling).to(x.dtype)[:, None]
        idx = self.step.view(1)
        for i, layer in enumerate(lm.layers):
            a = layer.self_attn
            h = layer.input_layernorm(x)
            q = a.q_proj(h).view(B, self.nh, self.hd)
            k = a.k_proj(h).view(B, self.nkv, self.hd)
            v = a.v_proj(h).view(B, self.nkv, self.hd)
            q, k = q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin
            self.sk[i].index_copy_(2, idx, k[:, :, None].to(self.sk[i].dtype))
            self.sv[i].index_copy_(2, idx, v[:, :, None].to(self.sv[i].dtype))
            o = self._attend(i, q.to(self.sk[i].dtype))
            x = x + a.o_proj(o.reshape(B, self.nh * self.hd))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        logits = self.base.lm_head(lm.norm(x))
        tok, lp = self._sample(logits, self.record)
        tok = torch.where(self.done, torch.full_like(tok, self.pad_id), tok)
        self.out_tok.index_copy_(1, idx + 1, tok[:, None])
        if lp is not None:
            self.out_lp.index_copy_(1, idx + 1, lp[:, None])
        self.done |= torch.isin(tok, self._eos_t)
        self.tok.copy_(tok)
        self.step.add_(1)

    @torch.no_grad()
    def generate(self, prompt_ids: list[list[int]], videos: list[dict], max_new: int,
                 record_logps: bool = False) -> Rollouts:
        if len(prompt_ids) != len(videos) or not prompt_ids:
            raise ValueError(f"fast rollouts: {len(prompt_ids)} prompts but {len(videos)} video rows")
        device = self.lm.embed_tokens.weight.device
        groups, B = groups_of(prompt_ids, videos), len(prompt_ids)
        self.record, self._eos_t = record_logps, torch.tensor(self.eos_ids, device=device)
        self._suppress_t = torch.tensor(self.suppress, dtype=torch.long, device=device)
        self.use_flash = self.attention == "flash" or (
            self.attention == "auto" and device.type == "cuda" and self.lm.embed_tokens.weight.dtype != torch.float32
            and _flash_works(device, self.lm.embed_tokens.weight.dtype, self.nh, self.nkv, self.hd))
        t0 = _now(device)
        last, lens, deltas = self._prefill(prompt_ids, videos, groups, device)
        sizes = [b - a for a, b in groups]
        row_group = torch.repeat_interleave(torch.arange(len(groups)), torch.tensor(sizes)).to(device)
        self.row_group = row_group
        lens_t = torch.tensor(lens, device=device)
        self.prefix_valid = torch.arange(max(lens), device=device)[None] < lens_t[row_group, None]
        i32 = dict(dtype=torch.int32, device=device)
        rep, nkv = self.nh // self.nkv, self.nkv
        self.lens_t, self.max_group = lens_t.to(torch.int32).repeat_interleave(nkv), max(sizes)
        self.cu_q = torch.tensor([0] + [n * rep for n in sizes for _ in range(nkv)], **i32).cumsum(0, dtype=torch.int32)
        self.cu_kp = torch.arange(len(groups) * nkv + 1, **i32) * max(lens)
        self.perm = torch.tensor([row * self.nh + h * rep + r for a, b in groups for h in range(nkv)
                                  for row in range(a, b) for r in range(rep)], device=device)
        slots = max(1, max_new - 1)
        self.cu_rows = torch.arange(B * nkv + 1, **i32) * rep
        self.cu_ks = torch.arange(B * nkv + 1, **i32) * slots
        shape = (B, self.nkv, slots, self.hd)
        self.sk = [torch.zeros(shape, dtype=self.pk[0].dtype, device=device) for _ in self.lm.layers]
        self.sv = [torch.zeros(shape, dtype=self.pk[0].dtype, device=device) for _ in self.lm.layers]
        self.pos0 = (lens_t + torch.tensor(deltas, device=device))[row_group]
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.out_tok = torch.full((B, max_new), self.pad_id, dtype=torch.long, device=device)
        self.out_lp = torch.zeros((B, max_new), device=device)
        tok, lp = self._sample(last[row_group], record_logps)
        self.out_tok[:, 0] = tok
        if lp is not None:
            self.out_lp[:, 0] = lp
        self.tok, self.done = tok.clone(), torch.isin(tok, self._eos_t)
        t1 = _now(device)
        steps = self._decode(max_new - 1, device)
        t2 = _now(device)
        tokens, logps = [], [] if record_logps else None
        for r, (row, lps) in enumerate(zip(self.out_tok.tolist(), self.out_lp.tolist())):
            end = next((j + 1 for j, t in enumerate(row) if t in self.eos_ids), len(row))
            tokens.append(row[:end])
            if record_logps:
                logps.append(lps[:end])
        self._free()
        return Rollouts(tokens, logps, t1 - t0, t2 - t1, steps, "flash-varlen" if self.use_flash else "math",
                        self.graph_used, self.graph_error)

    def _decode(self, n: int, device) -> int:
        """Run up to n decode steps (stopping once every row is done); returns the steps run."""
        graph = self.cuda_graph and device.type == "cuda" and n > 1
        done, self.graph_error = 0, None
        with self._autocast(device):
            if graph:
                side = torch.cuda.Stream()
                side.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(side):  # the first step runs eagerly (warms cuBLAS and the allocator)
                    self._step()
                torch.cuda.current_stream().wait_stream(side)
                done, g = 1, torch.cuda.CUDAGraph()
                try:
                    with torch.cuda.graph(g):
                        self._step()
                except RuntimeError as exc:  # capture refused (an op that syncs): the same steps, eagerly
                    graph, self.graph_error = False, f"{type(exc).__name__}: {exc}"[:300]
            while done < n:
                if graph:
                    g.replay()
                else:
                    self._step()
                done += 1
                if done % 16 == 0 and bool(self.done.all()):
                    break
        self.graph_used = graph
        return done

    def _free(self):
        for name in ("pk", "pv", "sk", "sv", "out_tok", "out_lp", "tok", "done"):
            setattr(self, name, None)


def _now(device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def trainer_rollouts(trainer, prompt_ids: list[list[int]]) -> tuple[list[list[int]], list[list[float]] | None]:
    """`VideoGRPOTrainer(fast_rollout=True)`'s generation: its rows' videos, sampling settings and EOS ids."""
    gc = trainer.generation_config
    off = {"top_k": gc.top_k in (None, 0), "top_p": gc.top_p in (None, 1.0), "min_p": gc.min_p in (None, 0.0),
           "repetition_penalty": gc.repetition_penalty in (None, 1.0)}
    if not all(off.values()):
        raise ValueError(f"fast rollouts sample with temperature only; set {[k for k, ok in off.items() if not ok]} "
                         "to their neutral values or use fast_rollout=False")
    from trl.trainer.grpo_trainer import unwrap_model_for_generation
    with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                     gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
                                     generation_kwargs=trainer.generation_kwargs,
                                     gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs) as model:
        was_training = model.training
        model.eval()  # HF turns the cache off under gradient checkpointing in train mode
        try:
            eng = FastRollout(model, trainer.eos_token_ids, trainer._tokenizer.pad_token_id, gc.suppress_tokens or (),
                              temperature=trainer.temperature if gc.do_sample else 0.0,
                              mm_token_type_ids=trainer.processing_class.create_mm_token_type_ids)
            out = eng.generate(prompt_ids, trainer._active_videos, trainer.max_completion_length,
                               record_logps=trainer.record_generation_logps)
        finally:
            model.train(was_training)
    trainer.last_rollout = out  # timings and the attention path taken, for logs and tests
    return out.tokens, out.logps
