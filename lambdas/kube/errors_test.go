package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/aws/smithy-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIsTransient(t *testing.T) {
	gr := schema.GroupResource{Group: "appmesh.k8s.aws", Resource: "virtualrouters"}
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/api", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"conflict", apierrors.NewConflict(gr, "yelb-ui", errors.New("the object has been modified")), true},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "patch", 2), true},
		{"gateway timeout", apierrors.NewTimeoutError("etcd", 1), true},
		{"internal error", apierrors.NewInternalError(errors.New("etcdserver: leader changed")), true},
		{"service unavailable", apierrors.NewServiceUnavailable("apiserver shutting down"), true},
		{"502 from a proxy", apierrors.NewGenericServerResponse(502, "get", gr, "x", "bad gateway", 0, true), true},
		{"wrapped conflict", fmt.Errorf("shift yelb-ui to 30%%: %w", apierrors.NewConflict(gr, "yelb-ui", errors.New("x"))), true},
		{"connection refused", refused, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"deadline", fmt.Errorf("apply: %w", context.DeadlineExceeded), true},
		{"AWS throttling", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}, true},
		{"canceled", context.Canceled, false},
		{"invalid object", apierrors.NewInvalid(schema.GroupKind{Group: "appmesh.k8s.aws", Kind: "VirtualRouter"}, "yelb-ui", nil), false},
		{"forbidden", apierrors.NewForbidden(gr, "yelb-ui", errors.New("RBAC")), false},
		{"not found", apierrors.NewNotFound(gr, "yelb-ui"), false},
		{"unauthorized", apierrors.NewUnauthorized("token expired"), false},
		{"unknown kind", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "x", Kind: "Y"}}, false},
		{"AWS access denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, false},
		{"plain error", errors.New("template has no route"), false},
		{"field not in the schema", apierrors.NewInternalError(errors.New(
			"failed to create typed patch object (yelb/yelb-ui; gateway.networking.k8s.io/v1, Kind=HTTPRoute): .spec.rules[0].matches[0].path.prefix: field not declared in schema")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
