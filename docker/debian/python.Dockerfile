# A stand-in for python:3.11-slim-bookworm built only from Debian's packages, for hosts that
# reach a Debian mirror but not Docker Hub (docker/debian/build-images.sh builds it).
# Debian's Python refuses system-wide pip installs (PEP 668), so `python` and `pip` are a venv
# on the PATH, as they are the image's own interpreter in the official image.
ARG DEBIAN_IMAGE=medassist-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/python \
 && /opt/python/bin/pip install --no-cache-dir --upgrade pip
ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["python3"]
