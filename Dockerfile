# The app as an image: the package and its runtime dependencies from PyPI, serving the bundled demo.
#   docker build -t vtn-explorer .
#   docker run --rm -p 8501:8501 vtn-explorer              # http://localhost:8501
#   docker run --rm -p 8501:8501 vtn-explorer --present    # presentation mode
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /build
# What the wheel is built from (pyproject.toml's [tool.setuptools] packages and package-data).
COPY pyproject.toml README.md app.py ./
COPY .streamlit .streamlit
COPY vtn_core vtn_core
COPY ui ui
COPY pages pages
COPY assets assets
RUN pip install . && rm -rf /build

RUN useradd --create-home --uid 1000 app
USER app
WORKDIR /home/app
ENV VTN_CACHE_DIR=/home/app/.cache/vtn-explorer
# compile the decoder's pixel loops into the user's numba cache now, so the first analysis does not wait
RUN python -c "from vtn_core.video import kernels; kernels.warm_up()"
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
ENTRYPOINT ["vtn-explorer", "app", "--address", "0.0.0.0", "--port", "8501"]
CMD []
