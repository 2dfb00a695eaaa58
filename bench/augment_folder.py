"""What augmentation changes on a small folder of images: Fashion-MNIST written out as PNG files, trained
with and without augmentation, the rest equal.

    python bench/augment_folder.py [--train-per-class 600] [--epochs 30] [--out /tmp/augment-bench]
                                   [--augment "--crop 2 --flip"] [--train-flags "--schedule constant"]

Writes OUT/images/train/<class>/*.png (the first N training images of each class) and
OUT/images/test/<class>/*.png (the whole test set), then runs, in fresh processes,
    cnn train fashion_cnn --data OUT/images --epochs E --out OUT/plain
    cnn train fashion_cnn --data OUT/images --epochs E --out OUT/augmented --crop 2 --flip [AUGMENT FLAGS]
and `cnn evaluate RUN --format json` on both run folders (best.npz), and prints one Markdown table.
Fashion-MNIST comes from the cache (`cnn train fashion_cnn --data fashion-mnist` fetches it).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cnncli.data import load_data


def folder_name(name: str) -> str:
    """A class name as a folder name ('T-shirt/top' -> 'T-shirt-top')."""
    return name.replace("/", "-")


def write_pngs(out: Path, per_class: int) -> tuple[int, int]:
    """The first `per_class` training images of each class and every test image as PNG files."""
    train, test = load_data("fashion-mnist")
    assert test is not None
    counts = []
    for split, data, limit in (("train", train, per_class), ("test", test, None)):
        written = 0
        for label, name in enumerate(data.classes):
            folder = out / split / folder_name(name)
            folder.mkdir(parents=True, exist_ok=True)
            for i, index in enumerate(np.flatnonzero(data.y == label)[:limit]):
                Image.fromarray(data.x[index, 0]).save(folder / f"{index:05d}.png")
                written += 1
        counts.append(written)
    return counts[0], counts[1]


def run(args: list[str]) -> float:
    """Run `cnn ...` in a fresh process; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cnncli", *args], check=True)
    return time.perf_counter() - started


def summary(run_dir: Path, images: Path) -> dict[str, float]:
    history = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    best = max(history, key=lambda r: r["val_acc"])
    report = json.loads(subprocess.run([sys.executable, "-m", "cnncli", "evaluate", str(run_dir), "--data",
                                        str(images), "--format", "json"], check=True, capture_output=True,
                                       text=True).stdout)
    last = json.loads(subprocess.run([sys.executable, "-m", "cnncli", "evaluate", "fashion_cnn", "--weights",
                                      str(run_dir / "last.npz"), "--data", str(images), "--format", "json"],
                                     check=True, capture_output=True, text=True).stdout)
    return {"train_acc": history[-1]["train_acc"], "val_acc_last": history[-1]["val_acc"],
            "val_loss_min": min(r["val_loss"] for r in history), "val_loss_last": history[-1]["val_loss"],
            "best_epoch": best["epoch"], "val_acc_best": best["val_acc"], "test_best": report["accuracy"],
            "test_last": last["accuracy"], "macro_f1_best": report["macro_avg"]["f1"],
            "shirt_f1_best": next(c["f1"] for c in report["classes"] if c["class"] == "Shirt")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-per-class", type=int, default=600)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("/tmp/augment-bench"))
    parser.add_argument("--augment", default="--crop 2 --flip", help="the augmentation flags [--crop 2 --flip]")
    parser.add_argument("--train-flags", default="", help="more `cnn train` flags for both runs")
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    images = options.out / "images"
    if not (images / "train").exists():
        print("writing PNG files:", *write_pngs(images, options.train_per_class), "train and test images",
              file=sys.stderr)
    common = ["train", "fashion_cnn", "--data", str(images), "--epochs", str(options.epochs), "--threads",
              str(options.threads), "--seed", "0", *options.train_flags.split()]
    runs = {"plain": [], "augmented": options.augment.split()}
    rows = {}
    for name, flags in runs.items():
        seconds = run([*common, "--out", str(options.out / name), *flags])
        rows[name] = {**summary(options.out / name, images), "seconds": seconds}
    print(f"| run ({options.train_per_class * 10:,} training images, 10% held out; {options.epochs} epochs"
          f"{' ' + options.train_flags if options.train_flags else ''}) | "
          "final train acc | val acc (last) | best val acc (epoch) | lowest / last val loss | test acc, best.npz | "
          "test acc, last.npz | macro F1 (best) | Shirt F1 | time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows.items():
        label = "no augmentation" if name == "plain" else f"`{options.augment}`"
        print(f"| {label} | {r['train_acc']:.2%} | {r['val_acc_last']:.2%} | {r['val_acc_best']:.2%} "
              f"({r['best_epoch']}) | {r['val_loss_min']:.3f} / {r['val_loss_last']:.3f} | {r['test_best']:.2%} | "
              f"{r['test_last']:.2%} | {r['macro_f1_best']:.3f} | {r['shirt_f1_best']:.3f} | {r['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
