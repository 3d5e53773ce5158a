# Test image for ringline (cgo binding over liburing for io_uring).
#
# Build:  docker build -t ringline-test .
# Run:    docker run --rm --security-opt seccomp=unconfined ringline-test
#
# Why --security-opt seccomp=unconfined: Docker's default seccomp profile
# blocks the io_uring_setup, io_uring_enter and io_uring_register system
# calls. Without that option (or a custom seccomp profile that allows those
# three calls) ring setup fails with EPERM, and the io_uring tests fail with
# an error saying so. (A ringline server with Config.Backend auto still runs
# there: it falls back to the epoll backend and logs why.)
#
# `go test -race` needs a C compiler; the golang images already ship gcc and
# libc6-dev, so only liburing (headers and the static liburing.a) is added.
FROM golang:1.26-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends liburing-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Module downloads get their own layer, rebuilt only when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

CMD ["bash", "scripts/test"]
