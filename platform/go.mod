module github.com/sproudstack/sproudchat/platform

go 1.26.0

require github.com/google/go-cmp v0.6.0
