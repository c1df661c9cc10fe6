"""The dashboard's page catalogue: one entry per script in the top-level pages/ folder, in order.

Titles, sections and summaries are marked for translation here (``N_``) and translated where shown, so the catalogue
is built once per process, never parsed per rerun. A test checks that every page file has exactly one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnnviz.i18n import NC_, N_, _

ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = ROOT / "pages"

# Sections, in the order the sidebar shows them.
START, CONV_LAB, INSIDE, TRAINING, TRANSFER, CLASS = (
    NC_("dashboard section", "Start"), N_("Convolution lab"), N_("Inside a CNN"), N_("Training"),
    N_("Transfer learning"), NC_("classroom", "Class"))


@dataclass(frozen=True)
class PageInfo:
    file: str  # the script's name in pages/
    section_id: str  # the English section (untranslated), for grouping
    title_id: str  # the English title (untranslated)
    icon: str | None
    summary_id: str  # one sentence for the Home page's tour (untranslated)

    @property
    def path(self) -> Path:
        return PAGES_DIR / self.file

    @property
    def slug(self) -> str:
        """The URL path: the file's name without its number."""
        return Path(self.file).stem.split("_", 1)[-1]

    @property
    def section(self) -> str:
        return _(self.section_id)

    @property
    def title(self) -> str:
        return _(self.title_id)

    @property
    def summary(self) -> str:
        return _(self.summary_id)


PAGES: tuple[PageInfo, ...] = (
    PageInfo("00_home.py", START, N_("Home"), ":material/home:",
             N_("The tour of the dashboard and the model zoo of the lecture notes, with Keras-style summaries.")),
    PageInfo("10_output_size.py", CONV_LAB, N_("Output size"), ":material/straighten:",
             N_("How big is the output of a convolution or pooling layer? The rule with your numbers, and the "
                "window positions on the padded input grid.")),
    PageInfo("11_sliding_window.py", CONV_LAB, N_("Sliding window"), ":material/grid_on:",
             N_("One output cell of a convolution, multiplied and added by hand: a small editable input and "
                "kernel.")),
    PageInfo("12_layer_stack.py", CONV_LAB, N_("Layer stack"), ":material/stacks:",
             N_("Stack conv / pool / flatten / linear layers and follow the shape, the parameters and the "
                "receptive field through the network; PyTorch checks every number.")),
    PageInfo("13_pooling.py", CONV_LAB, N_("Pooling"), ":material/filter_center_focus:",
             N_("Max vs average pooling on a small grid and on a photo; shifting the input by a pixel; no "
                "parameters.")),
    PageInfo("14_activations.py", CONV_LAB, N_("Activation functions"), ":material/show_chart:",
             N_("Sigmoid, tanh, ReLU, leaky ReLU and ELU with their derivatives, and why deep sigmoid networks "
                "stop learning.")),
    PageInfo("15_softmax_losses.py", CONV_LAB, N_("Softmax and losses"), ":material/functions:",
             N_("Softmax with temperature on example logits; binary cross-entropy, cross-entropy and MSE, and "
                "which task each is for.")),
    PageInfo("16_im2col.py", CONV_LAB, N_("im2col"), ":material/table_rows:",
             N_("How libraries really compute a convolution: unroll every window into a row (im2col) and do one "
                "matrix product.")),
    PageInfo("17_classic_kernels.py", CONV_LAB, N_("Classic kernels"), ":material/photo_filter:",
             N_("Hand-made kernels (Sobel, Laplacian, blur, sharpen, your own) on a photo, channel by channel.")),
    PageInfo("20_feature_maps.py", INSIDE, N_("Feature maps"), ":material/layers:",
             N_("Upload a photo (or pick a sample) and see every channel a layer computes from it, the strongest "
                "channels, one channel enlarged, the layers one after another, and the model's prediction.")),
    PageInfo("21_filters.py", INSIDE, N_("Filters during training"), ":material/filter_vintage:",
             N_("The filters (conv weights) before training, after, and how much each weight moved; an epoch "
                "scrubber shows the filters and one fixed image's feature maps at every checkpoint a training run "
                "saved.")),
    PageInfo("22_grad_cam.py", INSIDE, N_("Grad-CAM: where it looks"), ":material/center_focus_strong:",
             N_("Grad-CAM lays a heat map over the image: the places that pushed the model towards the predicted "
                "class, or a class you choose.")),
    PageInfo("23_filter_looks_for.py", INSIDE, N_("What a filter looks for"), ":material/visibility:",
             N_("For a layer and channel: the images or photo patches that excite it most, cropped to its receptive "
                "field; an input optimized to excite it, shown as it improves; channels of the first, a middle and "
                "the last stage side by side.")),
    PageInfo("24_draw.py", INSIDE, N_("Draw and predict"), ":material/draw:",
             N_("Draw a digit (or, for the Fashion-MNIST CNN, a shirt, a shoe or a trouser) and watch the MNIST "
                "CNN's feature maps and prediction change as you draw; the MNIST preprocessing step by step.")),
    PageInfo("25_network_overview.py", INSIDE, N_("The whole network"), ":material/account_tree:",
             N_("One image through every layer, left to right, as CNN Explainer shows it: click a channel to see the "
                "channels it reads, click a cell to see its arithmetic (windows, kernels, sums, bias, ReLU, "
                "pooling) with the real numbers.")),
    PageInfo("26_where_it_looks.py", INSIDE, N_("Where it looks, four ways"), ":material/compare:",
             N_("Grad-CAM, plain gradients, Integrated Gradients and occlusion side by side for the same image and "
                "class, when they disagree, and the sanity check of randomizing the last layer.")),
    PageInfo("27_channel_atlas.py", INSIDE, N_("Channel atlas"), ":material/apps:",
             N_("Every channel of a layer as the input optimized to excite it, in one grid (as OpenAI Microscope "
                "shows), computed once in the background and kept; each tile leads to its top examples.")),
    PageInfo("30_training_studio.py", TRAINING, N_("Training studio"), ":material/model_training:",
             N_("Set up a run, start it and watch the loss and accuracy curves move while it trains in the "
                "background. Stop and resume with no step lost.")),
    PageInfo("31_compare_runs.py", TRAINING, N_("Compare runs"), ":material/stacked_line_chart:",
             N_("Overlay the curves of several runs (SGD against Adam, a high learning rate against a low one, "
                "augmentation on and off) and delete the runs you no longer need.")),
    PageInfo("32_errors.py", TRAINING, N_("Errors & confusion"), ":material/grid_on:",
             N_("The confusion matrix of a trained network on the test images: which classes it mixes up, and the "
                "misclassified images of any cell with their probabilities.")),
    PageInfo("33_weights_gradients.py", TRAINING, N_("Weights and gradients"), ":material/ssid_chart:",
             N_("Every layer's weights and gradients over a run, as TensorBoard shows them: histograms stacked over "
                "the steps, bands from the minimum to the maximum, and each layer's gradient norm at every step.")),
    PageInfo("34_vanishing_gradients.py", TRAINING, N_("Vanishing gradients"), ":material/trending_down:",
             N_("The same deep CNN trained side by side with sigmoid and with ReLU: with sigmoid the first layers' "
                "gradients shrink to almost nothing.")),
    PageInfo("35_feature_space.py", TRAINING, N_("Feature space"), ":material/scatter_plot:",
             N_("The last layer's features of 2,000 test images in 2-D (PCA or t-SNE), coloured by class: before "
                "training, after it, and epoch by epoch as the clusters form.")),
    PageInfo("40_transfer_compare.py", TRANSFER, N_("Compare strategies"), ":material/compare_arrows:",
             N_("Reuse a pretrained backbone: from scratch vs frozen base + new head vs fine-tuning the last block "
                "or everything, on the same target data with the same budget.")),
    PageInfo("41_transfer_backbones.py", TRANSFER, N_("Backbones and parameters"), ":material/account_tree:",
             N_("The notes' summaries of a pretrained base + new 128-64-10 head: total, trainable and frozen "
                "parameters per strategy.")),
    PageInfo("42_transfer_saved.py", TRANSFER, N_("Saved comparisons"), ":material/folder_open:",
             N_("Reopen saved transfer-learning comparisons and overlay them: e.g. the same strategies with 5, 20 "
                "and 100 labels per class.")),
    PageInfo("50_class.py", CLASS, NC_("classroom", "Class"), ":material/groups:",
             N_("The teacher's view: every student's runs on this server, a leaderboard, chosen runs on one chart, "
                "stop and delete. Opens with the teacher's password.")),
)


def pages() -> list[PageInfo]:
    """Every page, in order (the first is the default, Home), that exists on disk."""
    return [p for p in PAGES if p.path.exists()]


def page(file: str) -> PageInfo:
    """The catalogue's entry of a page script (e.g. ``"30_training_studio.py"``); KeyError for an unknown one."""
    for info in PAGES:
        if info.file == file:
            return info
    raise KeyError(file)
