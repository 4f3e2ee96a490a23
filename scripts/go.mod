module github.com/sproudstack/sproudchat/scripts

go 1.26.0

require github.com/google/go-cmp v0.6.0
