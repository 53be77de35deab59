#!/usr/bin/env bash
# Builds test/go/client against Debian's Go packages only (no module proxy):
# generates the Go stubs from proto/ with protoc, protoc-gen-go and
# protoc-gen-go-grpc into a GOPATH of its own, then builds in GOPATH mode with
# /usr/share/gocode (grpc-go, google.golang.org/protobuf, golang/protobuf 1.5,
# genproto) second on GOPATH.
#
#   test/go/build.sh WORKDIR     # writes WORKDIR/bin/wxtoken-go-client
#
# WORKDIR is a scratch GOPATH (a temp dir; nothing is written into the repo).
# GOCACHE is honoured if set, so repeated runs reuse the compiled grpc-go.
# Debian packages: golang-go golang-google-grpc-dev golang-google-protobuf-dev
# golang-github-golang-protobuf-1-5-dev protoc-gen-go protoc-gen-go-grpc
# protobuf-compiler, and golang-google-genproto-dev, which grpc-go's package
# pulls in (errdetails, for the ErrorInfo of a status). Without the 1-5
# package the older golang/protobuf 1.3 is picked and decoding panics.
set -euo pipefail
work="${1:?usage: test/go/build.sh WORKDIR}"
here="$(cd "$(dirname "$0")" && pwd)"
proto_root="$(cd "$here/../../proto" && pwd)"
# The stubs' Go import path in this scratch GOPATH, given on the command line:
# an M mapping overrides the proto's go_package (its package name, wxtokenv1, is kept).
gen_pkg="wxtoken.test/gen/wxtokenv1"
mapping="Mwxtoken/v1/token_service.proto=$gen_pkg;wxtokenv1"

mkdir -p "$work/src" "$work/bin"
protoc -I "$proto_root" -I /usr/include \
  --go_out="$work/src" --go_opt=paths=import --go_opt="$mapping" \
  --go-grpc_out="$work/src" --go-grpc_opt=paths=import --go-grpc_opt="$mapping" \
  "$proto_root/wxtoken/v1/token_service.proto"

mkdir -p "$work/src/wxtoken.test/client"
cp "$here/client/main.go" "$work/src/wxtoken.test/client/main.go"

GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= \
  go build -ldflags="-s -w" -o "$work/bin/wxtoken-go-client" wxtoken.test/client
