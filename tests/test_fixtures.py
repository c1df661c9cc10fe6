"""The shared fixtures do what they say: no_network refuses every route to the network with its own sentence (here,
with no network at all, a route it missed would fail with another error, so each check can fail)."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from conftest import NO_NETWORK


def routes(tmp_path):
    import torch.hub
    import torchvision.datasets.utils as tv_utils

    url = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    return {
        "urllib": lambda: urllib.request.urlopen(url, timeout=2),
        "torch.hub.urlopen": lambda: torch.hub.urlopen(url, timeout=2),
        "torch.hub download": lambda: torch.hub.download_url_to_file(url, str(tmp_path / "w.pth"), progress=False),
        "torch.hub weights": lambda: torch.hub.load_state_dict_from_url(url, model_dir=str(tmp_path), progress=False),
        "torchvision download": lambda: tv_utils.download_url(url, str(tmp_path)),
        "torchvision dataset": lambda: __import__("torchvision").datasets.MNIST(str(tmp_path), download=True),
        "socket": lambda: socket.create_connection(("download.pytorch.org", 443), timeout=2),
    }


@pytest.mark.parametrize("route", ["urllib", "torch.hub.urlopen", "torch.hub download", "torch.hub weights",
                                   "torchvision download", "torchvision dataset", "socket"])
def test_no_network_refuses_every_route(route, no_network, tmp_path, capsys):
    with pytest.raises(Exception) as caught:
        routes(tmp_path)[route]()
    said = f"{caught.value!r} {caught.value.__cause__!r} {capsys.readouterr().out}"  # torchvision prints its tries
    assert NO_NETWORK in said, said
