"""Checks samples of English words against the word list.

  words_check.py check SAMPLES.txt [--min F] [--distinct F] [--below]
      SAMPLES.txt holds one sample per line. Passes when at least F (default
      0.15) of them are words of the list (lowercase, 4 to 7 letters a..z,
      Debian's wamerican) and at least --distinct (default 0.8) of them
      differ; prints both, and the share of the valid ones that are held-out
      words (every tenth word of the list, which training never saw).
      --below: the bar must fail (a baseline).
  words_check.py ngram N OUT.txt [--n 1000]
      Samples --n strings from a character N-gram model fitted to the
      training words (the list less the held-out ones), for comparison.
"""
import sys

import numpy as np

LIST = "/usr/share/dict/american-english"


def words():
    seen, out = set(), []
    for line in open(LIST, encoding="utf-8", errors="replace"):
        w = line.rstrip("\n")
        if 4 <= len(w) <= 7 and all("a" <= c <= "z" for c in w) and w not in seen:
            seen.add(w)
            out.append(w)
    return out


def check(path, least, distinct_least, below):
    all_words = words()
    vocabulary = set(all_words)
    held_out = set(all_words[9::10])
    samples = [line.rstrip("\n") for line in open(path)]
    valid = [s for s in samples if s in vocabulary]
    share = len(valid) / len(samples)
    distinct = len(set(samples)) / len(samples)
    novel = sum(s in held_out for s in valid) / max(1, len(valid))
    print(f"{len(samples)} samples: {share:.3f} are words (bar {least}), "
          f"{distinct:.3f} distinct (bar {distinct_least}); "
          f"held-out words among the valid: {novel:.3f}")
    passed = share >= least and distinct >= distinct_least
    assert passed != below, "the bar should fail" if below else "the bar is missed"


def ngram(order, out, n):
    held_out = set(words()[9::10])
    train = [w for w in words() if w not in held_out]
    counts = {}
    for w in train:
        s = "^" * (order - 1) + w + "$"
        for i in range(order - 1, len(s)):
            ctx = s[i - order + 1:i]
            counts.setdefault(ctx, {}).setdefault(s[i], 0)
            counts[ctx][s[i]] += 1
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(n):
        s = "^" * (order - 1)
        while len(s) < order - 1 + 7:
            options = counts[s[len(s) - order + 1:] if order > 1 else ""]
            chars = list(options)
            p = np.array([options[c] for c in chars], float)
            c = chars[rng.choice(len(chars), p=p / p.sum())]
            if c == "$":
                break
            s += c
        lines.append(s[order - 1:])
    open(out, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]

    def option(name, default):
        return float(args[args.index(name) + 1]) if name in args else default

    if args[0] == "check":
        check(args[1], option("--min", 0.15), option("--distinct", 0.8), "--below" in args)
    elif args[0] == "ngram":
        ngram(int(args[1]), args[2], int(option("--n", 1000)))
    else:
        sys.exit(f"unknown command {args[0]}")
