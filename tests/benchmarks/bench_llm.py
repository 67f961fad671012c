"""Benchmark: the model layer's overhead over the raw openai client, and the cost of a rerun (all cache hits).

A loopback OpenAI-compatible server (ThreadingHTTPServer in a separate process, keep-alive) answers every request
after 200 ms. N requests (default 2,000) at concurrency 64 go
  (a) through the raw `openai` client + ThreadPoolExecutor(64) (reply parsed and validated with pydantic), and
  (b) through ModelLayer.call_many (fresh cache dir: cache lookups, stores, rate-limit bookkeeping, ledger), then
  (c) through a new ModelLayer on the same cache: a rerun, which must make 0 HTTP calls.

    python tests/benchmarks/bench_llm.py [--n 2000] [--concurrency 64] [--delay 0.2] [--repeat 1]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

MODEL = "bench-model"


def serve(port_q, count, delay: float) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):                                    # /count: requests served so far
            self._send(json.dumps({"count": count.value}).encode())

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with count.get_lock():
                count.value += 1
            time.sleep(delay)
            q = body["messages"][-1]["content"]
            content = json.dumps({"think": f"about {q}", "answer": "B"})
            self._send(json.dumps({
                "id": "c", "object": "chat.completion", "created": 0, "model": MODEL,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}}).encode())

        def _send(self, data: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer.request_queue_size = 512
    ThreadingHTTPServer.daemon_threads = True
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_q.put(httpd.server_address[1])
    httpd.serve_forever()


def requests(n: int, tag: str):
    from jobs.sources.base import ChatRequest, SolverAnswer
    return [ChatRequest(role="solver", task="solve", schema=SolverAnswer, prompt_version="bench@1",
                        messages=[{"role": "system", "content": "Answer as JSON."},
                                  {"role": "user", "content": f"{tag} question number {i}: which option?"}])
            for i in range(n)]


def run_raw(base_url: str, reqs, concurrency: int) -> float:
    import openai
    from jobs.llm.structured import response_format
    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=60)

    def one(r):
        resp = client.chat.completions.create(model=MODEL, messages=r.messages, temperature=r.temperature,
                                              max_tokens=r.max_tokens, response_format=response_format(r.schema))
        return r.schema.model_validate_json(resp.choices[0].message.content)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        out = list(pool.map(one, reqs))
    dt = time.perf_counter() - t0
    assert len(out) == len(reqs)
    client.close()
    return dt


def make_layer(base_url: str, home: Path, concurrency: int):
    from jobs.llm import ModelLayer
    from videokr.settings import Settings
    s = Settings(home=home, extra={"llm": {"roles": {"solver": {
        "backend": "openai", "base_url": base_url, "model": MODEL, "api_key_env": "", "concurrency": concurrency,
        "rpm": 1_000_000, "tpm": 1_000_000_000}}, "prices": {MODEL: {"input_per_mtok": 1, "output_per_mtok": 4}}}})
    return ModelLayer(s, None, "bench")


def run_layer(base_url: str, home: Path, reqs, concurrency: int) -> tuple[float, list]:
    layer = make_layer(base_url, home, concurrency)
    t0 = time.perf_counter()
    res = layer.call_many(reqs)
    dt = time.perf_counter() - t0
    assert all(r.ok for r in res), [r.error for r in res if not r.ok][:3]
    layer.close()
    return dt, res


def served(base_url: str) -> int:
    import urllib.request
    return json.load(urllib.request.urlopen(base_url.rsplit("/v1", 1)[0] + "/count"))["count"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--delay", type=float, default=0.2)
    ap.add_argument("--repeat", type=int, default=1, help="alternate raw/layer runs this many times; best kept")
    a = ap.parse_args()

    count = mp.Value("l", 0)
    q = mp.Queue()
    proc = mp.Process(target=serve, args=(q, count, a.delay), daemon=True)
    proc.start()
    base_url = f"http://127.0.0.1:{q.get(timeout=30)}/v1"
    ideal = -(-a.n // a.concurrency) * a.delay
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_raw(base_url, requests(a.concurrency, "warm-raw"), a.concurrency)        # warm-up both paths
            run_layer(base_url, Path(tmp) / "warm", requests(a.concurrency, "warm-layer"), a.concurrency)
            raw_t, layer_t = [], []
            for rep in range(a.repeat):
                reqs = requests(a.n, f"rep{rep}")
                raw_t.append(run_raw(base_url, reqs, a.concurrency))
                home = Path(tmp) / f"home{rep}"                                             # fresh cache dir
                dt, first = run_layer(base_url, home, reqs, a.concurrency)
                layer_t.append(dt)
            before = served(base_url)
            rerun_t, again = run_layer(base_url, home, reqs, a.concurrency)
            rerun_calls = served(base_url) - before
            assert all(r.cached for r in again) and [r.parsed for r in again] == [r.parsed for r in first]
    finally:
        proc.terminate()
    raw, layer = min(raw_t), min(layer_t)
    print(f"requests={a.n} concurrency={a.concurrency} server delay={a.delay * 1000:.0f} ms "
          f"(ideal wall {ideal:.2f} s = {a.n / ideal:.0f} req/s)")
    print(f"raw openai + ThreadPoolExecutor: {raw:6.2f} s  {a.n / raw:7.1f} req/s   runs: "
          + " ".join(f"{t:.2f}" for t in raw_t))
    print(f"videokr ModelLayer.call_many  : {layer:6.2f} s  {a.n / layer:7.1f} req/s   runs: "
          + " ".join(f"{t:.2f}" for t in layer_t))
    print(f"layer overhead: {100 * (layer - raw) / raw:+.1f} % (goal <= 5 %)")
    print(f"rerun (all cache hits): {rerun_t:.3f} s, HTTP calls: {rerun_calls}, "
          f"{a.n / rerun_t:.0f} req/s")


if __name__ == "__main__":
    main()
