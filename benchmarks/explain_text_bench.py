"""Are the review explanations faithful, and fast enough? (dlapp/explain/text.py)

    DLAPP_DATA_DIR=/work/shared/data python benchmarks/explain_text_bench.py [--model models/imdb-best.keras]
        [--reviews 500] [--speed-reviews 30] [--seed 0]

Faithfulness: on a seeded sample of IMDB test reviews, delete the 5 words with the highest
Integrated-Gradients scores towards the predicted label, and beside it, in the same run, 5
random words among those read; re-run the model on the re-joined standardised text and report
the mean drop of the predicted label's probability for both. Re-joining alone (nothing deleted)
is shown as a check that it changes nothing. Claim: the top-5 drop is at least twice the random one.
The completeness gap (|sum of scores - logit change| / max(|logit change|, 1)) is shown too.

For an attention model (`--model models/imdb-attention.keras`), the same run also deletes the 5 words
with the largest pooling-head weights and the 5 with the largest attention rollout (explain/attention.py),
and shows a uniform-attention baseline: the same model with its pooling weights replaced by equal
weights over each review's tokens, nothing deleted (how much the learnt weights matter at all). Beside
it, the agreement of each ranking with the drop-word effect (Spearman over a review's read tokens between
the weight, or |IG score|, and how far deleting that one token moves the label's logit): median over reviews.

Speed: model-side p50/p90 of explain_review on ~300-word test reviews, beside the p50 of a plain
compiled prediction of the same reviews. Target: p50 <= 1 s with imdb-best on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dlapp.backend import compiled, keras, tf  # noqa: E402
from dlapp.data import load_dataset  # noqa: E402
from dlapp.explain.attention import explain_attention, head_outputs, is_attention_model, spearman  # noqa: E402
from dlapp.explain.text import explain_review, standardized_tokens  # noqa: E402

DELETED = 5  # words deleted per review


def predictor(model):
    """P(positive) for many texts: the app's compiled path, 64 reviews per call."""
    fn = compiled(model, tf.TensorSpec((None,), tf.string))
    return lambda texts: np.concatenate([fn(np.array(texts[i:i + 64], dtype=object))[:, 0]
                                         for i in range(0, len(texts), 64)])


def deletions(model, reviews: list[str], rng: np.random.Generator) -> dict[str, list]:
    """Per review: the three re-joined texts (nothing, top 5, random 5 deleted), the predicted
    label's sign, its probability and the completeness gap."""
    attention = is_attention_model(model)
    out = {"kept": [], "top": [], "random": [], "positive": [], "probability": [], "gap": [],
           "pooled": [], "rollout": [], "agree_pooled": [], "agree_rollout": [], "agree_ig": []}
    for i, text in enumerate(reviews):
        e = explain_review(model, text)
        words = [w for w, _ in e.tokens] + e.unread
        scores = np.array([s for _, s in e.tokens])
        top = set(np.argsort(-scores)[:DELETED].tolist())
        rand = set(rng.choice(e.read, DELETED, replace=False).tolist())
        ranked = [("kept", set()), ("top", top), ("random", rand)]
        if attention:
            view = explain_attention(model, text)
            size = np.abs(view.drop_effect)
            ranked += [("pooled", set(np.argsort(-np.array(view.pooled))[:DELETED].tolist())),
                       ("rollout", set(np.argsort(-np.array(view.rollout))[:DELETED].tolist()))]
            for key, weights in (("agree_pooled", view.pooled), ("agree_rollout", view.rollout),
                                 ("agree_ig", np.abs(scores))):
                out[key].append(spearman(weights, size))
        for key, drop in ranked:
            out[key].append(" ".join(w for j, w in enumerate(words) if j not in drop))
        out["positive"].append(e.label == "positive")
        out["probability"].append(e.probability)
        out["gap"].append(abs(scores.sum() - e.logit_change) / max(abs(e.logit_change), 1.0))
        if (i + 1) % 100 == 0:
            print(f"  explained {i + 1}/{len(reviews)}", file=sys.stderr, flush=True)
    return out


def faithfulness(model, texts: np.ndarray, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    reviews = [str(texts[i]) for i in rng.choice(len(texts), n, replace=False)]
    d = deletions(model, reviews, rng)
    predict, positive = predictor(model), np.array(d["positive"])
    before = np.array(d["probability"])

    def label_p(key: str) -> np.ndarray:
        p = predict(d[key])
        return np.where(positive, p, 1.0 - p)

    kept, top, rand = label_p("kept"), before - label_p("top"), before - label_p("random")
    gaps = np.array(d["gap"])
    print(f"faithfulness on {n} IMDB test reviews (seed {seed}), P(predicted label), mean drop:")
    print(f"  re-joined, nothing deleted (check)    {np.mean(before - kept):+.4f}  (max |change| "
          f"{np.abs(before - kept).max():.1e})")
    print(f"  {DELETED} random read words deleted (ref.)   {rand.mean():+.4f}")
    ratio = f"{top.mean() / rand.mean():.1f}x" if rand.mean() > 0 else "n/a (random drop <= 0)"
    print(f"  {DELETED} top-attributed words deleted        {top.mean():+.4f}  ratio {ratio}  "
          f"target >= 2x: {'met' if top.mean() >= 2 * max(rand.mean(), 0.0) else 'MISSED'}")
    print(f"  label flipped: top-5 {np.mean(top > before - 0.5):.1%}, random-5 {np.mean(rand > before - 0.5):.1%}")
    print(f"  completeness gap: median {np.median(gaps):.2%}, p90 {np.percentile(gaps, 90):.2%}, "
          f"> 5% on {np.mean(gaps > 0.05):.1%} of reviews")
    if not d["pooled"]:
        return
    pooled, rolled = before - label_p("pooled"), before - label_p("rollout")
    uniform = np.concatenate([head_outputs(model, reviews[i:i + 64], uniform=True)[2] for i in range(0, n, 64)])
    flat = before - np.where(positive, uniform, 1.0 - uniform)

    def agreement(key: str) -> str:
        rho = np.array([r for r in d[key] if r is not None])
        return f"median {np.median(rho):+.2f} (IQR {np.percentile(rho, 25):+.2f} to {np.percentile(rho, 75):+.2f})"

    print("attention, same reviews, same run: mean drop of P(predicted label) | label flipped | agreement with "
          "the drop-word effect (Spearman)")
    rows = [(f"{DELETED} top-IG words deleted", top, agreement("agree_ig")),
            (f"{DELETED} top pooling-weight words deleted", pooled, agreement("agree_pooled")),
            (f"{DELETED} top rollout words deleted", rolled, agreement("agree_rollout")),
            (f"{DELETED} random read words deleted", rand, "—"),
            ("uniform attention (equal pooling weights), none deleted", flat, "—")]
    print("| ranking | mean drop | label flipped | agreement |\n|---|---|---|---|")
    for name, drop, rho in rows:
        print(f"| {name} | {drop.mean():+.4f} | {np.mean(drop > before - 0.5):.1%} | {rho} |")


def speed(model, texts: np.ndarray, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    lengths = np.array([len(t.split()) for t in texts])
    pool = np.flatnonzero((lengths >= 280) & (lengths <= 320))
    reviews = [str(texts[i]) for i in rng.choice(pool, min(n, len(pool)), replace=False)]
    tokens = [len(standardized_tokens(model, r)) for r in reviews]
    fn = compiled(model, tf.TensorSpec((None,), tf.string))
    explain_review(model, reviews[0])  # trace once, as a server does at its first request
    fn(np.array(reviews[:1], dtype=object))
    plain, explain = [], []
    for r in reviews:
        t = time.perf_counter()
        fn(np.array([r], dtype=object))
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        explain_review(model, r)
        explain.append(time.perf_counter() - t)
    p50 = np.percentile(explain, 50)
    print(f"speed on {len(reviews)} test reviews of 280-320 words ({np.median(tokens):.0f} tokens median):")
    print(f"  plain prediction (ref.)  p50 {np.percentile(plain, 50) * 1000:7.0f} ms")
    print(f"  explain_review           p50 {p50 * 1000:7.0f} ms  p90 {np.percentile(explain, 90) * 1000:.0f} ms  "
          f"({p50 / np.percentile(plain, 50):.1f}x a prediction)  target p50 <= 1000 ms: "
          f"{'met' if p50 <= 1.0 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "imdb-best.keras")
    parser.add_argument("--reviews", type=int, default=500, help="test reviews for the deletion test")
    parser.add_argument("--speed-reviews", type=int, default=30, help="~300-word test reviews timed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model = keras.saving.load_model(args.model, safe_mode=True)
    data = load_dataset("imdb")  # DLAPP_DATA_DIR
    print(f"model {args.model.name}: last layer {model.layers[-1].name}")
    speed(model, data.x_test, args.speed_reviews, args.seed)
    faithfulness(model, data.x_test, args.reviews, args.seed)


if __name__ == "__main__":
    main()
