"""The deployment files are valid: Kubernetes manifests against the API schemas
(offline), the Dockerfile against hadolint's rules."""
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

BIN = Path(sys.executable).parent
DEPLOY = ROOT / "deploy"


def test_kubernetes_manifests_validate_strictly():
    manifests = sorted(str(path) for path in (DEPLOY / "k8s").glob("*.yaml"))
    assert len(manifests) >= 5
    completed = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", *manifests],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    kinds = completed.stdout
    for resource in ("deployment/embedding-server", "service/embedding-server",
                     "horizontalpodautoscaler/embedding-server", "configmap/embedding-server",
                     "secret/embedding-server"):
        assert resource in kinds, resource


def test_deployment_probes_the_health_endpoints():
    deployment = (DEPLOY / "k8s" / "deployment.yaml").read_text()
    assert "path: /health/ready" in deployment and "path: /health/live" in deployment


def test_dockerfile_passes_hadolint():
    completed = subprocess.run([str(BIN / "hadolint"), str(DEPLOY / "Dockerfile")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile and "\nUSER " in dockerfile
    assert dockerfile.count("\nFROM ") >= 1 and dockerfile.count("FROM ") >= 2  # multi-stage
    assert "./[tracing]" in dockerfile  # tracing needs only OTEL_* variables in the image
