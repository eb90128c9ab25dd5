package app

import (
	"context"
	"io"

	"github.com/dgp-proxy/dgp/internal/admin"
	"github.com/dgp-proxy/dgp/internal/s3api"
	"github.com/dgp-proxy/dgp/internal/s3err"
	"github.com/dgp-proxy/dgp/internal/storage"
)

// mountObjects serves the object browser's endpoints on the admin API:
// the instance's buckets as the S3 API routes them, with writes reported
// to the replication rules as S3 writes are (withWriteHook).
func (a *App) mountObjects(api *admin.API) {
	o := &routerObjects{router: a.router}
	if a.jobs != nil && len(a.cfg.Storage.Replication.Rules) > 0 {
		e := a.jobs
		o.onWrite = func(ctx context.Context, bucket, key, op string) {
			if !e.Covers(bucket, key) {
				return
			}
			qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
			defer cancel()
			_ = e.Enqueue(qctx, bucket, key, op) // logged and counted by the engine
		}
	}
	api.MountObjects(o)
}

// objectRouter is what routerObjects needs of the storage router.
type objectRouter interface {
	Resolve(bucket string) (storage.Backend, string)
	ListBuckets(ctx context.Context) ([]storage.BucketInfo, error)
}

var _ objectRouter = (*storage.Router)(nil)

// routerObjects adapts the storage router to admin.Objects: client-facing
// bucket names resolved to their backend, as the S3 API does.
type routerObjects struct {
	router objectRouter
	// onWrite, when set, is told of every successful put and delete
	// (s3api.WritePut, s3api.WriteDelete) before the answer.
	onWrite s3api.OnWrite
}

var _ admin.Objects = (*routerObjects)(nil)

func (o *routerObjects) backend(bucket string) (storage.Backend, string, error) {
	b, name := o.router.Resolve(bucket)
	if b == nil {
		return nil, "", s3err.ErrNoSuchBucket.WithResource(bucket)
	}
	return b, name, nil
}

func (o *routerObjects) ListBuckets(ctx context.Context) ([]storage.BucketInfo, error) {
	return o.router.ListBuckets(ctx)
}

func (o *routerObjects) ListObjects(ctx context.Context, bucket string, opts storage.ListOptions) (*storage.ListResult, error) {
	b, name, err := o.backend(bucket)
	if err != nil {
		return nil, err
	}
	return b.ListObjects(ctx, name, opts)
}

func (o *routerObjects) GetObject(ctx context.Context, bucket, key string, opts storage.GetOptions) (*storage.Object, error) {
	b, name, err := o.backend(bucket)
	if err != nil {
		return nil, err
	}
	return b.GetObject(ctx, name, key, opts)
}

func (o *routerObjects) PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64, opts storage.PutOptions) (*storage.PutResult, error) {
	b, name, err := o.backend(bucket)
	if err != nil {
		return nil, err
	}
	res, err := b.PutObject(ctx, name, key, body, size, opts)
	if err == nil && o.onWrite != nil {
		o.onWrite(ctx, bucket, key, s3api.WritePut)
	}
	return res, err
}

func (o *routerObjects) DeleteObject(ctx context.Context, bucket, key string) error {
	b, name, err := o.backend(bucket)
	if err != nil {
		return err
	}
	if _, err := b.DeleteObject(ctx, name, key, storage.DeleteOptions{}); err != nil {
		return err
	}
	if o.onWrite != nil {
		o.onWrite(ctx, bucket, key, s3api.WriteDelete)
	}
	return nil
}
