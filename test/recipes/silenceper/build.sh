#!/usr/bin/env bash
# Builds the silenceper/wechat recipe (examples/silenceper-wechat/wxtoken_handle.go)
# with main.go beside this file, against the stand-in of silenceper/wechat
# (standin/), Go stubs generated from proto/ as example.com/you/wxtokenpb (the
# import path the recipe names), and Debian's grpc-go, in GOPATH mode as
# test/go/build.sh does (same Debian packages; no module proxy).
#   test/recipes/silenceper/build.sh WORKDIR    # writes WORKDIR/bin/silenceper-recipe
set -euo pipefail
work="${1:?usage: build.sh WORKDIR}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
pb="example.com/you/wxtokenpb"
mapping="Mwxtoken/v1/token_service.proto=$pb;wxtokenpb"

mkdir -p "$work/src/example.com/you/wxtokenhandle" "$work/src/wxtoken.test/silenceper" "$work/bin"
cp -r "$here/standin/." "$work/src/"
protoc -I "$root/proto" -I /usr/include \
  --go_out="$work/src" --go_opt=paths=import --go_opt="$mapping" \
  --go-grpc_out="$work/src" --go-grpc_opt=paths=import --go-grpc_opt="$mapping" \
  "$root/proto/wxtoken/v1/token_service.proto"
cp "$root/examples/silenceper-wechat/wxtoken_handle.go" "$work/src/example.com/you/wxtokenhandle/"
cp "$here/main.go" "$work/src/wxtoken.test/silenceper/main.go"

GO111MODULE=off GOPATH="$work:/usr/share/gocode" GOFLAGS= \
  go build -o "$work/bin/silenceper-recipe" wxtoken.test/silenceper
