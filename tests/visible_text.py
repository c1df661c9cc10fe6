"""What a page shows a reader, collected from an AppTest run, and a check that it is all in the chosen language.

English words allowed in Korean text: code, numbers, formulas, layer/model/dataset/library names and units (the
glossary, docs/GLOSSARY.md, says which stay in Latin letters).
"""

from __future__ import annotations

import json
import re

from cnnviz.i18n import has_hangul

# Names that stay in Latin letters in the Korean text (compared in lower case).
ALLOWED = {
    # models, datasets, libraries, formats
    "cnnviz", "cnn", "cnns", "pytorch", "torch", "torchvision", "torchinfo", "keras", "tensorflow", "tf", "timm",
    "captum", "mnist", "fashion", "cifar", "imagenet", "vgg", "mobilenet", "mobilenetv", "resnet", "resnetv",
    "efficientnet", "lite", "lenet", "alexnet", "simpleconvnet", "mycnn", "png", "jpeg", "jpg", "gif", "webp", "bmp",
    "tiff", "zip", "pt", "pth", "ckpt", "csv", "json", "cpu", "gpu", "avx", "bf", "url", "api", "id", "streamlit",
    "plotly", "numpy", "sobel", "laplacian", "gaussian", "prewitt", "he", "xavier", "glorot", "kaiming",
    # layer and function names, written as code in the notes
    "relu", "leaky", "leakyrelu", "elu", "tanh", "softmax", "sigmoid", "conv", "convd", "maxpool", "avgpool",
    "linear", "dense", "flatten", "dropout", "batchnorm", "bn", "sgd", "adam", "adamw", "momentum", "grad", "cam",
    "gradcam", "layergradcam", "im", "col", "imcol", "nn", "same", "valid", "ceil", "floor", "mode", "stride",
    "padding", "dilation", "kernel", "stem", "features", "classifier", "fc", "logits", "mse", "bce", "ce", "nll",
    "argmax", "max", "min", "avg", "sum", "exp", "log", "ln", "inf", "nan", "eval", "train", "none", "true", "false",
    "dtype", "float", "fp", "bfloat", "uint", "state", "dict", "hub", "top", "lr", "batch", "epoch", "epochs",
    # units and abbreviations
    "px", "ms", "kb", "mb", "gb", "mib", "gib", "img", "imgs", "fps", "flop", "flops", "gflop", "mac", "macs",
    "rgb", "hw", "chw", "hwc", "ok", "vs", "no", "ko", "en", "ai", "lang", "mnist's", "english",
    # module names of networks, shown as layer names (timm's EfficientNet: conv_stem, blocks, conv_head)
    "blocks", "layer", "head", "efficientnet", "timm",
}
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
CODE_TOKEN = re.compile(r"[0-9_./\\\[\]=<>#@{}|]")


def _strip(text: str) -> str:
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$", " ", text, flags=re.S)  # math
    text = re.sub(r"\\\w+", " ", text)  # LaTeX commands
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # markdown link targets
    text = re.sub(r":material/\w+:", " ", text)
    return text


def english_words(text: str) -> list[str]:
    """Words of the text that are neither code-like nor allowed names."""
    words = []
    for token in _strip(text).split():
        if CODE_TOKEN.search(token):  # conv1, features.0, 3x3, a_b, {n}: code or numbers
            continue
        for w in WORD.findall(token):
            if len(w) >= 3 and w.lower().strip("'’") not in ALLOWED and not w.isupper():
                words.append(w)
    return words


def untranslated(text: str) -> bool:
    """True when Korean text shows English prose: any English word in a text with no Hangul, or a run of three
    English words inside a Korean sentence."""
    words = english_words(text)
    if not words:
        return False
    if not has_hangul(text):
        return True
    stripped = _strip(text)
    return bool(re.search(r"(?:\b[A-Za-z]{3,}\b[ ,]+){2}\b[A-Za-z]{3,}\b", stripped)) and any(
        len(run) >= 3 for run in _english_runs(stripped))


def _english_runs(text: str) -> list[list[str]]:
    runs, cur = [], []
    for token in text.split():
        ws = WORD.fullmatch(token.strip(",.;:()\"'!?"))
        if ws and len(token) >= 3 and not CODE_TOKEN.search(token) and token.lower().strip(",.;:()") not in ALLOWED:
            cur.append(token)
        else:
            if cur:
                runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    return runs


def _figure_texts(spec: dict) -> list[str]:
    out: list[str] = []
    layout = spec.get("layout", {})

    def title_of(obj) -> str | None:
        t = obj.get("title") if isinstance(obj, dict) else None
        if isinstance(t, dict):
            return t.get("text")
        return t if isinstance(t, str) else None

    for key, value in layout.items():
        if isinstance(value, dict) and (key.startswith(("xaxis", "yaxis")) or key in ("coloraxis", "legend")):
            if (t := title_of(value)) is not None:
                out.append(t)
            if key == "coloraxis" and (t := title_of(value.get("colorbar", {}))) is not None:
                out.append(t)
    if (t := title_of(layout)) is not None:
        out.append(t)
    for ann in layout.get("annotations", []):
        if ann.get("text"):
            out.append(ann["text"])
    for trace in spec.get("data", []):
        if trace.get("name") and trace.get("showlegend", True) is not False:
            out.append(str(trace["name"]))
        if (t := title_of(trace.get("colorbar", {}) or {})) is not None:
            out.append(t)
        if trace.get("hovertemplate"):
            out.append(re.sub(r"%\{[^}]*\}|<[^>]+>", " ", trace["hovertemplate"]))
    return [re.sub(r"<[^>]+>", " ", t) for t in out if t]


def visible_texts(at) -> list[tuple[str, str]]:
    """(kind, text) of everything a reader sees on the page of an AppTest run (the sidebar's language switch
    excepted: its label is bilingual on purpose)."""
    out: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success",
                 "toast"):
        for el in getattr(at, kind, []):
            out.append((kind, str(el.value)))
    for el in at.metric:
        out.append(("metric", str(el.label)))
    for kind in ("button", "slider", "select_slider", "selectbox", "multiselect", "radio", "checkbox", "toggle",
                 "text_input", "number_input", "text_area", "date_input", "color_picker"):
        for el in getattr(at, kind, []):
            if getattr(el, "key", None) == "cnnviz.lang_switch":
                continue
            if getattr(el, "label", None):
                out.append((kind, str(el.label)))
            if getattr(el, "help", None):
                out.append((kind + ".help", str(el.help)))
    for el in at.expander:
        out.append(("expander", str(el.label)))
    for el in at.tabs:
        out.append(("tab", str(el.label)))
    for el in at.get("plotly_chart"):
        for t in _figure_texts(json.loads(el.proto.spec)):
            out.append(("figure", t))
    for el in at.dataframe:
        try:
            config = json.loads(el.proto.columns) if el.proto.columns else {}
        except ValueError:
            config = {}
        try:
            names = [str(c) for c in el.value.columns]
        except Exception:  # a frame AppTest cannot rebuild: no headers to read
            names = []
        for name in names:  # a column_config label is what the reader sees in place of the column's name
            label = (config.get(name) or {}).get("label") if isinstance(config.get(name), dict) else None
            if (config.get(name) or {}).get("hidden") if isinstance(config.get(name), dict) else False:
                continue
            out.append(("table header", label or name))
    return [(k, t) for k, t in out if t and t.strip()]


def untranslated_texts(at) -> list[tuple[str, str]]:
    return [(k, t) for k, t in visible_texts(at) if untranslated(t)]
