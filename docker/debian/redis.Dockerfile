# A stand-in for the official redis image from Debian's redis-server 7.0. Like the official
# image it accepts connections from the container network (protected mode off: the compose
# network is private and the port is not published).
ARG DEBIAN_IMAGE=medassist-local/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
COPY docker/debian/redis-server.sh /usr/local/bin/redis-server
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
