"""The `cnnviz` command: the model zoo, summaries, output sizes, datasets and training from a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from . import arithmetic, checkpoints, data, models


def _cmd_models(args: argparse.Namespace) -> int:
    print(f"{'name':<16}{'input':<12}{'parameters':>14}  description")
    for spec in models.ZOO.values():
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            total = sum(p.numel() for p in models.build_model(spec.name).parameters())
        shape = "×".join(map(str, spec.input_shape))
        print(f"{spec.name:<16}{shape:<12}{total:>14,}  {spec.title}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    if args.checkpoint:
        ckpt = checkpoints.load_checkpoint(args.checkpoint)
        model = checkpoints.model_from_checkpoint(ckpt, model_name=args.name)
        shape = ckpt.input_shape or models.input_shape_for(args.name or ckpt.model_name)
        title = f"{ckpt.model_name or args.name} from {args.checkpoint}"
        if ckpt.epoch is not None:
            title += f" (epoch {ckpt.epoch})"
        print(models.summarize(model, shape, title=title).to_text())
        return 0
    if not args.name:
        raise ValueError("name a model (see `cnnviz models`) or give --checkpoint PATH")
    shape = tuple(args.input) if args.input else None
    print(models.summarize(args.name, shape).to_text())
    return 0


def _cmd_outsize(args: argparse.Namespace) -> int:
    work = arithmetic.explain_output_size(args.size, args.kernel, stride=args.stride, padding=args.padding,
                                          dilation=args.dilation)
    print(work.formula)
    if not work.exact:
        cells = ", ".join(map(str, work.uncovered)) or "none (only padding is left over)"
        print(f"warning: (N + 2p - k) is not divisible by the stride (remainder {work.remainder}); "
              f"input cells never read: {cells}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    if args.download:
        ds = data.load_dataset(args.download, train=True, root=args.root)
        data.load_dataset(args.download, train=False, root=args.root)
        print(f"{args.download}: {len(ds):,} training images ready ({ds.source})")
        return 0
    print(f"{'dataset':<15}{'available':<11}{'input':<10}{'train':>8}{'test':>8}  classes / where")
    for info in data.DATASETS.values():
        ok, where = data.dataset_status(info.name, root=args.root)
        shape = "×".join(map(str, info.input_shape))
        print(f"{info.name:<15}{'yes' if ok else 'no':<11}{shape:<10}{info.train_size:>8,}{info.test_size:>8,}  "
              f"{len(info.classes)} classes; {where}")
    print(f"{'folder':<15}{'-':<11}{'any':<10}{'-':>8}{'-':>8}  a folder with one sub-folder of images per class")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cnnviz", description="See how convolutional neural networks work.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the model zoo: name, input shape, parameter count")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("summary", help="a Keras-style summary of a zoo model or a checkpoint")
    p.add_argument("name", nargs="?", help="zoo model name (see `cnnviz models`)")
    p.add_argument("--checkpoint", help="summarise the model saved in this checkpoint instead")
    p.add_argument("--input", type=int, nargs=3, metavar=("C", "H", "W"), help="input shape (default: the model's)")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("outsize", help="output size of a convolution: floor((N + 2p - d(k-1) - 1)/s) + 1")
    p.add_argument("size", type=int, help="input size N along one axis")
    p.add_argument("--kernel", "-k", type=int, required=True)
    p.add_argument("--stride", "-s", type=int, default=1)
    p.add_argument("--padding", "-p", type=int, default=0)
    p.add_argument("--dilation", "-d", type=int, default=1)
    p.set_defaults(func=_cmd_outsize)

    p = sub.add_parser("data", help="list datasets: available now?, from where, sizes")
    p.add_argument("--root", help="where downloaded datasets live (default ~/.cache/cnnviz/data or $CNNVIZ_DATA)")
    p.add_argument("--download", choices=sorted(set(data.DATASETS) - {"fashion_mnist"}) + ["fashion_mnist"],
                   help="download this dataset now (needs network)")
    p.set_defaults(func=_cmd_data)

    # `train` subcommand: the training engineer adds its parser block here (same trainer as the dashboard).
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as err:  # our errors carry a hint; no traceback for users
        print(f"cnnviz {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cnnviz {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
