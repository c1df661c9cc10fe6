"""Transfer learning | Backbones and parameters | :material/account_tree:

The notes' summaries of a pretrained base + new 128-64-10 head: total, trainable and frozen parameters
per strategy, for VGG16, MobileNetV2, ResNet-18/50 and the project's own CNN; ImageNet weights status.
"""

import pandas as pd
import streamlit as st

import cnnviz
from cnnviz import transfer
from cnnviz.i18n import _
from dashboard import layout
from dashboard.transfer import transfer_notes_keras_table, transfer_strategy_table

st.title(_("Backbones: what is frozen, what learns"))
early = layout.early_figure()  # on a projector the counts come first; the backbone, head and strategy follow them
with layout.explanation(_("The lecture notes' recipe")):  # on a projector: folded, the counts come first
    st.markdown(
        _("In the notes, `VGG16(weights='imagenet', include_top=False, input_shape=(32, 32, 3))` is the "
          "*convolutional base*; `base.trainable = False` freezes it, and a new head `Flatten → Dense(128) → "
          "Dense(64) → Dense(10)` is put on top. The summary then shows how few of the parameters actually learn. "
          "Pick a backbone and a strategy:")
    )

ARCHS = ["vgg16", "mobilenet_v2", "resnet18", "resnet50", "efficientnet_lite0", "mnist_cnn"]
c = st.columns(4)
arch = c[0].selectbox(_("Backbone"), ARCHS, key="tlb.arch",
                      format_func=lambda a: _(cnnviz.ZOO[a].title) + (" " + _("(the project's own)")
                                                                      if a == "mnist_cnn" else ""))
if arch == "mnist_cnn":
    side = 28
    c[1].metric(_("Input"), "28×28×1")
else:
    side = c[1].select_slider(_("Input size"), [32, 64, 96, 128, 224], value=32, key="tlb.side",
                              help=_("The notes use 32×32. Larger inputs give larger feature maps: for VGG16 the "
                                   "flattened features (and the first dense layer) grow."))
head_text = c[2].text_input(_("Head (hidden dense sizes)"), "128, 64", key="tlb.head")
num_classes = c[3].number_input(_("Classes"), 2, 1000, 10, key="tlb.classes")
try:
    head = tuple(int(v) for v in head_text.replace(" ", "").split(",") if v)
    if any(h < 1 or h > 8192 for h in head):
        raise ValueError
except ValueError:
    st.error(_("Write the head's hidden layer sizes as whole numbers separated by commas, e.g. `128, 64` (1 to 8192 each)."))
    st.stop()

shape = (1 if arch == "mnist_cnn" else 3, side, side)
try:
    table = transfer_strategy_table(arch, int(num_classes), shape, head)
except ValueError as err:
    st.error(str(err))
    st.stop()

strategy = st.radio(_("Strategy"), list(transfer.STRATEGIES), index=1, horizontal=True, key="tlb.strategy",
                    format_func=lambda s: _(transfer.STRATEGIES[s].title))
summary = table[strategy]
main = layout.main_figure(early=early)
m = main.columns(3)
m[0].metric(_("Total params"), f"{summary.counts.total:,}")
m[1].metric(_("Trainable params"), f"{summary.counts.trainable:,}")
m[2].metric(_("Frozen (non-trainable) params"), f"{summary.counts.frozen:,}")
main.caption(_(transfer.STRATEGIES[strategy].description))

STRATEGY, TRAINABLE, FROZEN, SHARE = _("strategy"), _("trainable"), _("frozen"), _("trainable %")
layout.table(pd.DataFrame([{STRATEGY: _(transfer.STRATEGIES[k].title), TRAINABLE: s.counts.trainable,
                           FROZEN: s.counts.frozen, SHARE: round(100 * s.counts.trainable / s.counts.total, 2)}
                          for k, s in table.items()]),
            where=main, counts=[TRAINABLE, FROZEN])
st.caption(_("The total is the same for every strategy ({total:,} parameters); only what learns changes. *Fine-tune "
             "the last block* unfreezes VGG16's block 5 (three 512-filter convs), ResNet's layer4, MobileNetV2's last "
             "inverted-residual block and final 1×1 conv, and the project's CNN's third conv.").format(
    total=summary.counts.total))
st.markdown(_("**The summary, as Keras prints it** (the whole base is one line, like `vgg16 (Functional)` in the notes)"))
st.code(summary.to_text(), language=None)

if st.toggle(_("Compare the notes' backbones side by side (builds each once, a few seconds)"), key="tlb.all"):
    rows = []
    for a in ("vgg16", "mobilenet_v2", "resnet18", "resnet50"):
        try:
            t = transfer_strategy_table(a, int(num_classes), (3, side, side), head)
        except ValueError as err:
            st.error(f"{a}: {err}")
            continue
        base = t["frozen"].lines[0]
        cols = {"backbone": _("backbone"), "out": _("base output (Keras: H×W×C)"), "base": _("base params"),
                "total": _("total"), "frozen": _("trainable (frozen base)"), "last": _("trainable (last block)")}
        rows.append({cols["backbone"]: _(cnnviz.ZOO[a].title), cols["out"]: base.output_shape,
                     cols["base"]: base.params, cols["total"]: t["frozen"].counts.total,
                     cols["frozen"]: t["frozen"].counts.trainable, cols["last"]: t["last_block"].counts.trainable})
    if rows:
        layout.table(pd.DataFrame(rows), counts=[cols[k] for k in ("base", "total", "frozen", "last")])
    st.caption(_("All with the same {head} head on {side}×{side} input. VGG16 flattens its 512 feature maps; "
                 "MobileNetV2 and ResNet average each map to one number first (global average pooling), so their "
                 "head's first layer sees 1280 or 512/2048 features.").format(
        head="-".join(map(str, [*head, int(num_classes)])), side=side))

st.subheader(_("The lecture notes' Keras tables, rebuilt"))
notes = {"mobilenet_v2": ("MobileNetV2", 2_430_858), "resnet50v2": ("ResNet50V2", 23_835_978)}
cols = {"net": _("backbone"), "torch": _("PyTorch parameters"), "bn": _("BN moving mean + variance"),
        "bias": _("conv biases only Keras has"), "base": _("Keras base"), "head": _("head 128-64-10"),
        "total": _("total"), "notes": _("the notes' total")}
rows = []
for key, (title, in_notes) in notes.items():
    t = transfer_notes_keras_table(key)
    rows.append({cols["net"]: title, cols["torch"]: t.torch_params, cols["bn"]: t.bn_moving,
                 cols["bias"]: t.conv_biases, cols["base"]: t.keras_base, cols["head"]: t.head,
                 cols["total"]: t.total, cols["notes"]: in_notes})
layout.table(pd.DataFrame(rows), counts=list(cols.values())[1:])
st.caption(_("Keras counts batch normalisation's moving mean and variance as non-trainable parameters; PyTorch keeps "
             "them as buffers, not parameters. The notes' ResNet50V2 is the pre-activation ResNet (timm's resnetv2_50 "
             "here), a different network from torchvision's ResNet-50, and Keras gives biases to its stem conv, each "
             "block's last 1×1 conv and each shortcut conv. With those differences counted, both totals are the "
             "notes' to the parameter. The head sees the globally averaged features (1280 or 2048)."))

st.divider()
st.subheader(_("Pretrained weights on this computer"))
if arch == "mnist_cnn":
    st.markdown(_("The project's CNN needs no download: *Compare strategies* pretrains it here on some Fashion-MNIST "
                "classes (or uses the checkpoint shipped in `assets/pretrained/`)."))
else:
    rows = []
    for name in transfer.IMAGENET_BACKBONES:
        ok, path = cnnviz.imagenet_weights_status(name)
        rows.append({_("backbone"): _(cnnviz.ZOO[name].title),
                     _("ImageNet weights"): _("found") if ok else _("missing"), _("file"): path.name})
    layout.table(pd.DataFrame(rows))
    st.caption(_("The files live in the torch hub cache: `~/.cache/torch/hub/checkpoints`, or `hub/checkpoints/` in "
                 "the folder TORCH_HOME names. With network they download by themselves the first time they are used "
                 "(tick *Download what is missing* on *Compare strategies*). Without network, copy them from a "
                 "machine that has them: each comes from `https://download.pytorch.org/models/<file>`."))
