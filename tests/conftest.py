"""Shared fixtures: the `device` fixture runs a test on "cpu" and, when a GPU
backend and adapter are present, on "gpu". With EMBER_REQUIRE_GPU=1 (set by
CI once the GPU backend lands) a missing adapter is a failure, not a skip."""

import os

import pytest

import ember


def _gpu_available():
    try:
        return ember.gpu.is_available()
    except Exception:  # noqa: BLE001
        return False


DEVICES = ["cpu"] + (
    ["gpu"] if _gpu_available() or os.environ.get("EMBER_REQUIRE_GPU") == "1" else []
)


@pytest.fixture(params=DEVICES)
def device(request):
    if request.param == "gpu" and not _gpu_available():
        if os.environ.get("EMBER_REQUIRE_GPU") == "1":
            pytest.fail(
                "EMBER_REQUIRE_GPU=1 but no GPU adapter is available: " + str(ember.gpu.info())
            )
        pytest.skip("no GPU adapter")
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    yield
    assert ember.is_grad_enabled(), "a test leaked grad mode"
