"""The `cnnviz` command: the model zoo, summaries, output sizes, datasets and training from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from . import arithmetic, checkpoints, data, i18n, models
from .i18n import N_, _
from .training.settings import MAX_EPOCHS

DEFAULT_PREDICT_MODEL = "efficientnet_lite0"
MAX_TOP = 1000  # classes `predict --top` prints (ImageNet has 1,000)

# argparse's own words (usage, headings, errors), translated through our catalog while the CLI runs
ARGPARSE_MESSAGES = (
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"), N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"), N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("argument %(argument_name)s: %(message)s"), N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"), N_("ambiguous option: %(option)s could match %(matches)s"),
)


def _cmd_models(args: argparse.Namespace) -> int:
    name, shape_title, params, weights, description = (_("name"), _("input"), _("parameters"), _("weights"),
                                                       _("description"))
    width = max(len(n) for n in models.ZOO) + 2
    print(f"{name:<{width}}{shape_title:<12}{params:>14}  {weights:<22}{description}")
    for spec in models.ZOO.values():
        imagenet = spec.bundled or spec.torchvision
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            total = sum(p.numel() for p in models.build_model(spec.name, num_classes=1000 if imagenet else 10)
                        .parameters())
        if spec.bundled:
            note = _("ImageNet: bundled")
        elif spec.torchvision:
            note = _("ImageNet: found") if models.imagenet_weights_status(spec.name)[0] else _("ImageNet: download")
        else:
            note = _("train it here")
        shape = "×".join(map(str, spec.input_shape))
        print(f"{spec.name:<{width}}{shape:<12}{total:>14,}  {note:<22}{_(spec.title)}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    if args.checkpoint:
        ckpt = checkpoints.load_checkpoint(args.checkpoint)
        model = checkpoints.model_from_checkpoint(ckpt, model_name=args.name)
        shape = ckpt.input_shape or models.input_shape_for(args.name or ckpt.model_name)
        title = _("{model} from {path}").format(model=ckpt.model_name or args.name, path=args.checkpoint)
        if ckpt.epoch is not None:
            title += " (" + _("epoch {n}").format(n=ckpt.epoch) + ")"
        print(models.summarize(model, shape, title=title).to_text())
        return 0
    if not args.name:
        raise ValueError(_("name a model (see `cnnviz models`) or give --checkpoint PATH"))
    shape = tuple(args.input) if args.input else None
    print(models.summarize(args.name, shape).to_text())
    return 0


def _cmd_outsize(args: argparse.Namespace) -> int:
    from .i18n import _

    work = arithmetic.explain_output_size(args.size, args.kernel, stride=args.stride, padding=args.padding,
                                          dilation=args.dilation)
    print(work.formula)
    if not work.exact:
        cells = arithmetic.describe_ranges(work) or _("none (only padding is left over)")
        print(_("warning: (N + 2p - k) is not divisible by the stride (remainder {r}); input cells never read: "
                "{cells}").format(r=work.remainder, cells=cells))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    """The top K classes of a photo: the bundled ImageNet network by default, or a saved checkpoint."""
    from . import cards, capture
    from .data import decode_image

    if not 1 <= args.top <= MAX_TOP:
        raise ValueError(_("--top must be from 1 to {limit:,}, got {k:,}").format(limit=MAX_TOP, k=args.top))
    if not Path(args.image).is_file():
        raise ValueError(_("there is no file {path}").format(path=args.image))
    img = decode_image(args.image)
    if args.checkpoint:
        ckpt = checkpoints.load_checkpoint(args.checkpoint)
        arch = args.model if args.model != DEFAULT_PREDICT_MODEL else None
        model = checkpoints.model_from_checkpoint(ckpt, model_name=arch).eval()
        card = cards.card_for_checkpoint(ckpt, model_name=arch)
    else:
        spec = models.ZOO.get(args.model)
        if spec is None:
            raise ValueError(_("unknown model {name!r}; see `cnnviz models`").format(name=args.model))
        if not (spec.bundled or spec.torchvision):
            raise ValueError(_("{name} has no trained weights of its own: give --checkpoint PATH (e.g. one that "
                               "`cnnviz train` saved)").format(name=args.model))
        model = models.load_imagenet_model(args.model, download=False)
        card = cards.card_for_imagenet(args.model)
    prediction = capture.predict(model, cards.prepare_image(img, card).tensor, classes=card.display_classes)
    for name, p in prediction.top(args.top):
        print(f"{p:7.2%}  {name}")
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    if args.download:
        ds = data.load_dataset(args.download, train=True, root=args.root)
        data.load_dataset(args.download, train=False, root=args.root)
        print(_("{name}: {n:,} training images ready ({source})").format(name=args.download, n=len(ds), source=ds.source))
        return 0
    head = (_("dataset"), _("available"), _("input"), _("train"), _("test"))
    print(f"{head[0]:<15}{head[1]:<11}{head[2]:<10}{head[3]:>8}{head[4]:>8}  " + _("classes / where"))
    for info in data.DATASETS.values():
        ok, where = data.dataset_status(info.name, root=args.root)
        shape = "×".join(map(str, info.input_shape))
        yes_no = _("yes") if ok else _("no")
        print(f"{info.name:<15}{yes_no:<11}{shape:<10}{info.train_size:>8,}{info.test_size:>8,}  "
              + _("{n} classes; {where}").format(n=len(info.classes), where=where))
    print(f"{'folder':<15}{'-':<11}{'any':<10}{'-':>8}{'-':>8}  " + _("a folder with one sub-folder of images per class"))
    print(_("Downloaded datasets live in {folder} (--root or CNNVIZ_DATA changes it).").format(
        folder=data.paths.shown_path(args.root or data.paths.DEFAULT_ROOT)))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    """Train a zoo model with the dashboard's trainer, a progress bar, and checkpoints in --out."""
    from tqdm import tqdm

    from . import training

    if args.name not in models.ZOO:
        raise ValueError(_("unknown model {name!r}; see `cnnviz models`").format(name=args.name))
    shape = models.input_shape_for(args.name)
    out = Path(args.out) if args.out else Path("runs") / f"{args.name}-{Path(args.dataset).name}"
    _check_writable(out)  # before minutes of training, not after the first epoch
    train, test = training.load_train_test(args.dataset, input_shape=shape, train_size=args.train_size,
                                           test_size=args.test_size, seed=args.seed, root=args.root)
    model = models.build_model(args.name, num_classes=len(train.classes), in_channels=shape[0], seed=args.seed)
    if args.bf16 and not training.bf16_fast():  # ~10x slower without a native bfloat16 unit: say so, train in fp32
        print(_("--bf16 ignored: this CPU has no native bfloat16 unit ({cap}), where it trains about ten times slower; "
                "training in float32.").format(cap=torch.backends.cpu.get_cpu_capability()), file=sys.stderr)
        args.bf16 = False
    print(_("training {model} on {data}: {n_train:,} training / {n_test:,} test images, {optimizer} lr {lr:g}, batch "
            "{batch}, {epochs} epochs -> {out}").format(model=args.name, data=train.name, n_train=len(train),
                                                       n_test=len(test), optimizer=args.optimizer, lr=args.lr,
                                                       batch=args.batch_size, epochs=args.epochs, out=out))
    shown: dict = {"epochs": 0, "bar": None}

    def progress(h: training.History) -> None:
        if shown["bar"] is None:  # drawn once training has begun: a setting refused at the start is one line
            shown["bar"] = tqdm(total=0, unit="step", dynamic_ncols=True, disable=args.quiet)
        bar = shown["bar"]
        bar.total = h.total_steps
        bar.update(h.step - bar.n)
        if h.steps:
            bar.set_postfix(epoch=h.steps[-1].epoch, loss=f"{h.steps[-1].loss:.4f}")
        for e in h.epochs[shown["epochs"]:]:
            bar.write(_("epoch {n:>3}: train loss {tl:.4f} acc {ta:.2%} · test loss {vl:.4f} acc {va:.2%} · {ips:,.0f} "
                        "images/s").format(n=e.epoch, tl=e.train_loss, ta=e.train_acc, vl=e.test_loss,
                                           va=e.test_acc, ips=e.images_per_s))
        shown["epochs"] = len(h.epochs)

    try:
        history = training.fit(
            model, train, test, epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
            momentum=args.momentum, weight_decay=args.weight_decay, augment=args.augment, seed=args.seed,
            callback=progress, checkpoint_dir=out, schedule=args.schedule, log_every=args.log_every,
            model_name=args.name, dataset=train.name, save_initial=args.save_initial, keep_state=False,
            threads=args.threads, bf16=args.bf16, max_steps=args.max_steps)
    finally:
        if shown["bar"] is not None:
            shown["bar"].close()
    if history.status != "finished":
        print(f"cnnviz train: {history.message}", file=sys.stderr)
        return 1
    last = out / f"epoch_{history.epochs[-1].epoch:02d}.pt"
    if not args.save_every_epoch:  # keep the last (and the initial one when asked)
        for path in out.glob("epoch_*.pt"):
            if path != last and not (args.save_initial and path.name == "epoch_00.pt"):
                path.unlink()
    speed = sum(e.images_per_s for e in history.epochs) / len(history.epochs)
    final = history.epochs[-1]
    print(_("test accuracy {acc:.2%} (best {best:.2%}) · {ips:,.0f} images/s · {s:.0f} s · checkpoint {path}").format(
        acc=final.test_acc, best=history.best_test_acc, ips=speed, s=history.elapsed_s, path=last))
    return 0


def _check_writable(folder: Path) -> None:
    """Raises ValueError unless checkpoints can be written into ``folder`` (made if missing)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cnnviz-write-test-"):
            pass
    except OSError as err:
        raise ValueError(_("cannot write checkpoints into {folder}: {reason}").format(
            folder=folder, reason=err.strerror or type(err).__name__)) from None


def _epochs(text: str) -> int:
    """--epochs: a whole number from 1 to MAX_EPOCHS (1e3 is read as 1000; 1e9 is refused in one sentence)."""
    from .training.settings import check_epochs

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{value!r} is not a number").format(value=text)) from None
    try:
        return check_epochs(value, name=_("the number of epochs"), shown=text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


class _Parser(argparse.ArgumentParser):
    """argparse with one line for a wrong argument (the usage is one `--help` away), exit status 2."""

    def error(self, message: str):  # type: ignore[override]
        hint = _("(`{prog} --help` lists the options)").format(prog=self.prog)
        self.exit(2, argparse._("%(prog)s: error: %(message)s\n") % {  # type: ignore[attr-defined]
            "prog": self.prog, "message": f"{message} {hint}"})


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnviz", description=_("See how convolutional neural networks work."))
    # --lang before or after the subcommand (cnnviz --lang ko predict x.png, cnnviz predict x.png --lang ko):
    # every subcommand takes it too; _language() reads it from argv before the parser is built
    lang = argparse.ArgumentParser(add_help=False)
    lang.add_argument("--lang", choices=list(i18n.LANGUAGES), default=argparse.SUPPRESS,
                      help=_("language of the messages: ko or en (default: from LANG / LC_ALL)"))
    parser.add_argument("--lang", choices=list(i18n.LANGUAGES),
                        help=_("language of the messages: ko or en (default: from LANG / LC_ALL)"))
    sub = _SubcommandsWithLang(parser.add_subparsers(dest="command", required=True), lang)

    p = sub.add_parser("models", help=_("list the model zoo: name, input shape, parameter count"))
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("summary", help=_("a Keras-style summary of a zoo model or a checkpoint"))
    p.add_argument("name", nargs="?", help=_("zoo model name (see `cnnviz models`)"))
    p.add_argument("--checkpoint", help=_("summarise the model saved in this checkpoint instead"))
    p.add_argument("--input", type=int, nargs=3, metavar=("C", "H", "W"), help=_("input shape (default: the model's)"))
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("outsize", help=_("output size of a convolution: floor((N + 2p - d(k-1) - 1)/s) + 1"))
    p.add_argument("size", type=int, help=_("input size N along one axis"))
    p.add_argument("--kernel", "-k", type=int, required=True)
    p.add_argument("--stride", "-s", type=int, default=1)
    p.add_argument("--padding", "-p", type=int, default=0)
    p.add_argument("--dilation", "-d", type=int, default=1)
    p.set_defaults(func=_cmd_outsize)

    p = sub.add_parser("predict", help=_("the classes a network sees in a photo, most probable first"))
    p.add_argument("image", help=_("a photo (PNG, JPEG, WebP, BMP, GIF or TIFF)"))
    p.add_argument("--model", default=DEFAULT_PREDICT_MODEL,
                   help=_("an ImageNet network of the zoo (default: the bundled EfficientNet-Lite0)"))
    p.add_argument("--checkpoint", help=_("use the network saved in this checkpoint instead"))
    p.add_argument("--top", type=int, default=5, help=_("how many classes to print (default 5, at most {limit:,})").format(
        limit=MAX_TOP))
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("data", help=_("list datasets: available now?, from where, sizes"))
    p.add_argument("--root", help=_("where downloaded datasets live (default ~/.cache/cnnviz/data or $CNNVIZ_DATA)"))
    p.add_argument("--download", choices=sorted(set(data.DATASETS) - {"fashion_mnist"}) + ["fashion_mnist"],
                   help=_("download this dataset now (needs network)"))
    p.set_defaults(func=_cmd_data)

    p = sub.add_parser("train", help=_("train a zoo model with a progress bar; saves checkpoints and history.json"))
    p.add_argument("name", help=_("zoo model name (see `cnnviz models`)"))
    p.add_argument("--dataset", default="fashion_mnist",
                   help=_("fashion_mnist (bundled), mnist, cifar10, or a folder with one sub-folder per class"))
    p.add_argument("--epochs", type=_epochs, default=5, help=_("from 1 to {limit:,} (default 5)").format(
        limit=MAX_EPOCHS))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--lr", type=float, default=1e-3, help=_("learning rate (default 0.001)"))
    p.add_argument("--momentum", type=float, default=0.9, help=_("SGD momentum (default 0.9)"))
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=["constant", "onecycle"], default="constant", help=_("learning-rate schedule"))
    p.add_argument("--augment", action="store_true", help=_("random 2-pixel shifts and horizontal flips"))
    p.add_argument("--bf16", action="store_true",
                   help=_("bfloat16 autocast: several times faster on CPUs with AMX/AVX-512 BF16, slightly different "
                          "numbers; ignored (with a warning) on CPUs without it"))
    p.add_argument("--seed", type=int, default=0, help=_("fixes the initial weights, the order and the augmentation"))
    p.add_argument("--max-steps", type=int, help=_("end the run after this many steps, mid-epoch if need be (the "
                                                    "notes' TensorFlow run: 10000)"))
    p.add_argument("--train-size", type=int, help=_("train on a random subset of this many images"))
    p.add_argument("--test-size", type=int, help=_("test on a random subset of this many images"))
    p.add_argument("--out", help=_("folder for checkpoints and history.json (default runs/NAME-DATASET)"))
    p.add_argument("--save-every-epoch", action="store_true", help=_("keep epoch_NN.pt for every epoch, not only the last"))
    p.add_argument("--save-initial", action="store_true", help=_("also keep epoch_00.pt, the untrained weights"))
    p.add_argument("--log-every", type=int, help=_("steps between progress updates (default 10)"))
    p.add_argument("--threads", type=int, help=_("at most this many CPU threads"))
    p.add_argument("--root", help=_("where downloaded datasets live (default ~/.cache/cnnviz/data or $CNNVIZ_DATA)"))
    p.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    p.set_defaults(func=_cmd_train)
    return parser


class _SubcommandsWithLang:
    """``add_parser`` of argparse's subparsers, with the --lang option added to every subcommand."""

    def __init__(self, subparsers, lang: argparse.ArgumentParser) -> None:
        self._subparsers, self._lang = subparsers, lang

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(name, parents=[self._lang], **kwargs)


def _language(argv: Sequence[str]) -> str:
    """--lang ko|en from the command line (looked at before the parser is built, so its help is translated too),
    else the environment's language."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv) and i18n.normalize(argv[i + 1]):
            return i18n.normalize(argv[i + 1])  # type: ignore[return-value]
        if arg.startswith("--lang=") and i18n.normalize(arg.split("=", 1)[1]):
            return i18n.normalize(arg.split("=", 1)[1])  # type: ignore[return-value]
    return i18n.language_from_environment()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    saved = argparse._, argparse.ngettext  # type: ignore[attr-defined]
    argparse._, argparse.ngettext = i18n.gettext, i18n.ngettext  # type: ignore[attr-defined]
    try:
        with i18n.language(_language(argv)):
            return _main(argv)
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as err:  # our errors carry a hint; no traceback for users
        message = str(err)
    except MemoryError:
        message = _("not enough free memory for this; try a smaller model, input or batch")
    except OSError as err:  # a file or folder that cannot be read or written
        message = " ".join(str(t) for t in (err.strerror or type(err).__name__, err.filename or "") if t)
    except KeyboardInterrupt:
        print(_("cnnviz {command}: interrupted").format(command=args.command), file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a bug of ours: still one line (CNNVIZ_DEBUG=1 shows the traceback)
        if os.environ.get("CNNVIZ_DEBUG"):
            raise
        message = _("unexpected {kind}: {err} (set CNNVIZ_DEBUG=1 to see where)").format(
            kind=type(err).__name__, err=str(err)[:200])
    print(_("cnnviz {command}: error: {message}").format(command=args.command, message=message.splitlines()[0]
                                                          if message else ""), file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
