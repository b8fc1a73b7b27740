"""The built-in demo set: labelled items made by code, answers known by arithmetic.

Open answers: additions and multiplications of growing difficulty (one-digit sums up to
three-digit products), each after a few worked examples, so a base model answers in the
expected form; accepted: the number. Multiple choice: which of two numbers is larger,
whether a number is even or odd, and the number after a given one. The same seed gives the
same items, so a demo run resumes like any other.

It leaves out running them (ops/calibrate.py).
"""

from __future__ import annotations

import random

from tokenprobe.calibration.data import LabelledItem

_SHOTS = "2 + 3 = 5\n7 + 8 = 15\n4 * 6 = 24\n12 + 9 = 21\n"


def demo_items(n_open: int = 30, n_choice: int = 30, seed: int = 0) -> list[LabelledItem]:
    rng = random.Random(seed)
    items: list[LabelledItem] = []
    for i in range(n_open):
        level = i * 4 // max(n_open, 1)  # four levels, easiest first
        if level == 0:
            a, b, op = rng.randint(1, 9), rng.randint(1, 9), "+"
        elif level == 1:
            a, b, op = rng.randint(10, 99), rng.randint(10, 99), "+"
        elif level == 2:
            a, b, op = rng.randint(3, 12), rng.randint(3, 12), "*"
        else:
            a, b, op = rng.randint(100, 999), rng.randint(10, 99), "*" if i % 2 else "+"
        value = a + b if op == "+" else a * b
        items.append(LabelledItem(f"arith-{i:02d}", f"{_SHOTS}{a} {op} {b} =",
                                  answers=[f" {value}"]))
    for i in range(n_choice):
        kind = i % 3
        if kind == 0:
            a, b = rng.sample(range(10, 100), 2)
            items.append(LabelledItem(
                f"larger-{i:02d}", f"Which number is larger, {a} or {b}? The larger is",
                options=[f" {a}", f" {b}"], answer_index=0 if a > b else 1))
        elif kind == 1:
            n = rng.randint(10, 99)
            items.append(LabelledItem(f"parity-{i:02d}", f"Is {n} even or odd? {n} is",
                                      options=[" even", " odd"], answer_index=n % 2))
        else:
            n = rng.randint(10, 98)
            right = n + 1
            wrong = rng.choice([n - 1, n + 2, n + 10])
            options = [f" {right}", f" {wrong}"]
            rng.shuffle(options)
            items.append(LabelledItem(f"next-{i:02d}", f"Counting up: {n - 2}, {n - 1}, {n},",
                                      options=options, answer_index=options.index(f" {right}")))
    return items
