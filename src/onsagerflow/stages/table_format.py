"""How a results table is shown: seeds of one model summarised beside their rows, a mark and a
note for runs whose training did not learn, and the Markdown text."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

WARNINGS = "training warnings"  # CSV column: the run's 'did not learn' warnings, '; '-joined
MARK = "⚠"  # after a model's name in the Markdown tables when it has warnings


COUNT = re.compile(r"(\d+)/(\d+)(.*)")


def _count(v: str) -> re.Match[str]:
    """The parts of a count "a/b…" (the caller has checked that ``v`` is one)."""
    m = COUNT.fullmatch(v)
    assert m is not None
    return m


SEED_COPY = re.compile(r"(?P<base>.+)_s(?P<seed>\d+)(?P<n>-n\d+)?")


def with_seed_summaries(df: pd.DataFrame) -> pd.DataFrame:
    """After the runs of a model trained from several seeds (``<key>_s<seed>``, config key
    ``seeds``), a row of their mean ± std: numbers as "mean ± std", counts "a/b" summed, other
    text kept where all seeds agree. The CSV keeps one row per run; this is for reading."""
    if df.empty or "model" not in df:
        return df
    keys = [c for c in ("system", "n") if c in df]
    groups: dict[tuple, list[int]] = {}
    for i, model in enumerate(df["model"]):
        m = SEED_COPY.fullmatch(str(model))
        if m:
            groups.setdefault((*(df[k].iloc[i] for k in keys), m["base"] + (m["n"] or "")), []).append(i)
    out, done = [], set()
    for i in range(len(df)):
        out.append(df.iloc[i].to_dict())
        m = SEED_COPY.fullmatch(str(df["model"].iloc[i]))
        if not m:
            continue
        key = (*(df[k].iloc[i] for k in keys), m["base"] + (m["n"] or ""))
        members = groups[key]
        if len(members) < 2 or key in done or i != max(members):
            continue
        done.add(key)
        rows = df.iloc[members]
        summary = {}
        for col in df.columns:
            vals = list(rows[col])
            if col in keys:
                summary[col] = vals[0]
            elif col == "model":
                summary[col] = f"**{key[-1]}: mean ± std of {len(vals)} seeds**"
            elif all(v == vals[0] for v in vals):
                summary[col] = vals[0]
            elif all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in vals):
                x = np.asarray(vals, dtype=float)
                summary[col] = (
                    f"{np.mean(x):.3g} ± {np.std(x, ddof=1):.2g}"
                    if np.isfinite(x).all()
                    else f"{np.isfinite(x).sum()}/{len(x)} finite"
                )
            elif (
                all(isinstance(v, str) and COUNT.fullmatch(v) for v in vals) and len({_count(v)[3] for v in vals}) == 1
            ):  # "a/b", maybe "a/b paths"
                parts = [_count(v) for v in vals]
                summary[col] = f"{sum(int(p[1]) for p in parts)}/{sum(int(p[2]) for p in parts)}{parts[0][3]}"
            else:
                summary[col] = "varies"
        out.append(summary)
    return pd.DataFrame(out, columns=df.columns)


def marked(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The table without the warnings column, a mark after each model that has warnings,
    and one note per such model."""
    if WARNINGS not in df:
        return df, []
    df, notes = df.copy(), []
    for i, w in enumerate(df[WARNINGS]):
        if not isinstance(w, str) or not w:
            continue
        name = f"{df['system'].iloc[i]} {df['model'].iloc[i]}"
        df.iloc[i, df.columns.get_loc("model")] = f"{df['model'].iloc[i]} {MARK}"
        why = "some of its seeds did not learn (rows above)" if w == "varies" else f"did not learn: {w}"
        notes.append(f"- {MARK} {name}: {why}")
    return df.drop(columns=WARNINGS), notes


def to_markdown(df: pd.DataFrame) -> str:
    df, notes = marked(with_seed_summaries(df))

    def fmt(v):
        if isinstance(v, float):
            return "–" if not np.isfinite(v) else f"{v:.3g}"
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")
