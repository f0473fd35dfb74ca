/*
 * faultvfs.c - a test-only SQLite VFS, LD_PRELOADed into the broker, that simulates power loss and
 * storage faults under the real plugin.
 *
 * Power loss. The main database file and its WAL are kept in memory, per path and shared by every
 * connection of the process (the plugin's and the checkpointer's), the way the OS page cache holds
 * them: reads and writes go to the image, and only xSync writes the image's dirty blocks (and a
 * pending truncation) to the real file before syncing it. Killing the broker with SIGKILL therefore
 * loses exactly what was written and not yet synced, which is what a power loss does to a disk
 * without a volatile cache (the worst case short of torn sectors, which this does not model). This
 * is SQLite's own crash-test idea (src/test6.c) with the "crash" being the process's death. The
 * shared-memory index is passed through to the real file: SQLite rebuilds it from the WAL when the
 * first connection after the crash opens it.
 *
 * Storage faults. With MQCHAT_FAULTVFS_CTL=<dir>, each write or sync of those files first checks for
 * <dir>/full (the write fails with SQLITE_FULL, as with a full disk or max_page_count), <dir>/ioerr
 * (writes and syncs fail with SQLITE_IOERR_WRITE / SQLITE_IOERR_FSYNC) and <dir>/readonly (writes fail
 * with SQLITE_READONLY). A test creates and removes the files to inject and clear the fault.
 *
 * Other files (rollback journals of the schema's first creation, temp files) pass through untouched.
 * The constructor registers the VFS as the default, wrapping "unix", before the plugin is loaded.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#define BLOCK 4096

/* The cached content of one file, as the OS would hold it. */
struct image {
	char *path;
	unsigned char *data;
	sqlite3_int64 size;      /* the content's size as SQLite sees it */
	sqlite3_int64 cap;       /* bytes allocated in data */
	sqlite3_int64 disk_size; /* the real file's size after the last sync */
	unsigned char *dirty;    /* one byte per BLOCK of data: written since the last sync */
	bool loaded;
	struct image *next;
};

struct fv_file {
	sqlite3_file base;
	struct image *img; /* NULL: passed through */
	sqlite3_file *real;
};

static sqlite3_vfs fv_vfs;
static sqlite3_vfs *real_vfs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct image *images;
static const char *ctl_dir;


/* A fault file exists in the control directory. */
static bool fault(const char *name)
{
	char path[512];

	if(ctl_dir == NULL) {
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s", ctl_dir, name);
	return access(path, F_OK) == 0;
}


static int write_fault(void)
{
	if(fault("full")) {
		return SQLITE_FULL;
	}
	if(fault("ioerr")) {
		return SQLITE_IOERR_WRITE;
	}
	if(fault("readonly")) {
		return SQLITE_READONLY;
	}
	return SQLITE_OK;
}


static bool reserve(struct image *img, sqlite3_int64 size)
{
	sqlite3_int64 cap = img->cap ? img->cap : 65536;
	unsigned char *data, *dirty;
	sqlite3_int64 old_blocks;

	if(size <= img->cap) {
		return true;
	}
	while(cap < size) {
		cap *= 2;
	}
	data = realloc(img->data, (size_t)cap);
	if(data == NULL) {
		return false;
	}
	img->data = data;
	dirty = realloc(img->dirty, (size_t)(cap / BLOCK + 1));
	if(dirty == NULL) {
		return false;
	}
	old_blocks = img->cap ? img->cap / BLOCK + 1 : 0;
	memset(dirty + old_blocks, 0, (size_t)(cap / BLOCK + 1 - old_blocks));
	img->dirty = dirty;
	memset(img->data + img->cap, 0, (size_t)(cap - img->cap));
	img->cap = cap;
	return true;
}


/* Loads the real file into the image once (caller holds lock). */
static int load(struct image *img, sqlite3_file *real)
{
	sqlite3_int64 size;
	int rc;

	if(img->loaded) {
		return SQLITE_OK;
	}
	rc = real->pMethods->xFileSize(real, &size);
	if(rc != SQLITE_OK) {
		return rc;
	}
	if(!reserve(img, size)) {
		return SQLITE_NOMEM;
	}
	if(size > 0) {
		rc = real->pMethods->xRead(real, img->data, (int)size, 0);
		if(rc != SQLITE_OK) {
			return rc;
		}
	}
	img->size = img->disk_size = size;
	img->loaded = true;
	return SQLITE_OK;
}


static struct image *image_for(const char *path)
{
	struct image *img;

	for(img = images; img; img = img->next) {
		if(!strcmp(img->path, path)) {
			return img;
		}
	}
	img = calloc(1, sizeof(*img));
	if(img == NULL || (img->path = strdup(path)) == NULL) {
		free(img);
		return NULL;
	}
	img->next = images;
	images = img;
	return img;
}


static void image_forget(const char *path)
{
	for(struct image **p = &images; *p; p = &(*p)->next) {
		if(!strcmp((*p)->path, path)) {
			struct image *img = *p;
			*p = img->next;
			free(img->path);
			free(img->data);
			free(img->dirty);
			free(img);
			return;
		}
	}
}


/* ---- io methods ---- */

static int fv_close(sqlite3_file *f)
{
	struct fv_file *p = (struct fv_file *)f;
	/* The image stays: like the page cache, it outlives the file handle. */
	return p->real->pMethods ? p->real->pMethods->xClose(p->real) : SQLITE_OK;
}


static int fv_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	struct fv_file *p = (struct fv_file *)f;
	int rc = SQLITE_OK;

	if(p->img == NULL) {
		return p->real->pMethods->xRead(p->real, buf, amt, off);
	}
	pthread_mutex_lock(&lock);
	if(off + amt <= p->img->size) {
		memcpy(buf, p->img->data + off, (size_t)amt);
	} else {
		sqlite3_int64 have = off < p->img->size ? p->img->size - off : 0;
		if(have > 0) {
			memcpy(buf, p->img->data + off, (size_t)have);
		}
		memset((char *)buf + have, 0, (size_t)(amt - have));
		rc = SQLITE_IOERR_SHORT_READ;
	}
	pthread_mutex_unlock(&lock);
	return rc;
}


static int fv_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct fv_file *p = (struct fv_file *)f;
	int rc;

	if(p->img == NULL) {
		return p->real->pMethods->xWrite(p->real, buf, amt, off);
	}
	rc = write_fault();
	if(rc != SQLITE_OK) {
		return rc;
	}
	pthread_mutex_lock(&lock);
	if(!reserve(p->img, off + amt)) {
		pthread_mutex_unlock(&lock);
		return SQLITE_NOMEM;
	}
	memcpy(p->img->data + off, buf, (size_t)amt);
	for(sqlite3_int64 b = off / BLOCK; b <= (off + amt - 1) / BLOCK; b++) {
		p->img->dirty[b] = 1;
	}
	if(off + amt > p->img->size) {
		p->img->size = off + amt;
	}
	pthread_mutex_unlock(&lock);
	return SQLITE_OK;
}


static int fv_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct fv_file *p = (struct fv_file *)f;

	if(p->img == NULL) {
		return p->real->pMethods->xTruncate(p->real, size);
	}
	pthread_mutex_lock(&lock);
	if(size < p->img->size) {
		memset(p->img->data + size, 0, (size_t)(p->img->size - size));
		p->img->size = size;
	}
	pthread_mutex_unlock(&lock);
	return SQLITE_OK;
}


/* Writes the image's dirty blocks and any truncation to the real file, then syncs it. */
static int fv_sync(sqlite3_file *f, int flags)
{
	struct fv_file *p = (struct fv_file *)f;
	struct image *img = p->img;
	int rc = SQLITE_OK;

	if(img == NULL) {
		return p->real->pMethods->xSync(p->real, flags);
	}
	if(fault("ioerr")) {
		return SQLITE_IOERR_FSYNC;
	}
	pthread_mutex_lock(&lock);
	for(sqlite3_int64 b = 0; rc == SQLITE_OK && b * BLOCK < img->size; b++) {
		if(img->dirty[b]) {
			sqlite3_int64 off = b * BLOCK;
			int n = (int)(img->size - off < BLOCK ? img->size - off : BLOCK);
			rc = p->real->pMethods->xWrite(p->real, img->data + off, n, off);
			img->dirty[b] = 0;
		}
	}
	if(rc == SQLITE_OK && img->disk_size > img->size) {
		rc = p->real->pMethods->xTruncate(p->real, img->size);
	}
	if(rc == SQLITE_OK) {
		img->disk_size = img->size;
		/* blocks past the end that were dirtied and then truncated away */
		memset(img->dirty + (img->size + BLOCK - 1) / BLOCK, 0,
		       (size_t)(img->cap / BLOCK + 1 - (img->size + BLOCK - 1) / BLOCK));
	}
	pthread_mutex_unlock(&lock);
	return rc == SQLITE_OK ? p->real->pMethods->xSync(p->real, flags) : rc;
}


static int fv_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct fv_file *p = (struct fv_file *)f;

	if(p->img == NULL) {
		return p->real->pMethods->xFileSize(p->real, size);
	}
	pthread_mutex_lock(&lock);
	*size = p->img->size;
	pthread_mutex_unlock(&lock);
	return SQLITE_OK;
}


static int fv_lock(sqlite3_file *f, int level)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xLock(p->real, level);
}


static int fv_unlock(sqlite3_file *f, int level)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xUnlock(p->real, level);
}


static int fv_check_reserved(sqlite3_file *f, int *out)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xCheckReservedLock(p->real, out);
}


static int fv_file_control(sqlite3_file *f, int op, void *arg)
{
	struct fv_file *p = (struct fv_file *)f;

	if(p->img != NULL && (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)) {
		return SQLITE_OK; /* the real file's size is ours to manage */
	}
	if(op == SQLITE_FCNTL_VFSNAME) {
		*(char **)arg = sqlite3_mprintf("faultvfs");
		return SQLITE_OK;
	}
	return p->real->pMethods->xFileControl(p->real, op, arg);
}


static int fv_sector_size(sqlite3_file *f)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xSectorSize(p->real);
}


static int fv_device_characteristics(sqlite3_file *f)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xDeviceCharacteristics(p->real);
}


static int fv_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xShmMap(p->real, pg, pgsz, extend, pp);
}


static int fv_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xShmLock(p->real, offset, n, flags);
}


static void fv_shm_barrier(sqlite3_file *f)
{
	struct fv_file *p = (struct fv_file *)f;
	p->real->pMethods->xShmBarrier(p->real);
}


static int fv_shm_unmap(sqlite3_file *f, int del)
{
	struct fv_file *p = (struct fv_file *)f;
	return p->real->pMethods->xShmUnmap(p->real, del);
}


/* No memory-mapped reads: they would bypass the image. */
static int fv_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	(void)f;
	(void)off;
	(void)amt;
	*pp = NULL;
	return SQLITE_OK;
}


static int fv_unfetch(sqlite3_file *f, sqlite3_int64 off, void *page)
{
	(void)f;
	(void)off;
	(void)page;
	return SQLITE_OK;
}


static const sqlite3_io_methods fv_methods = {
	3,
	fv_close,
	fv_read,
	fv_write,
	fv_truncate,
	fv_sync,
	fv_file_size,
	fv_lock,
	fv_unlock,
	fv_check_reserved,
	fv_file_control,
	fv_sector_size,
	fv_device_characteristics,
	fv_shm_map,
	fv_shm_lock,
	fv_shm_barrier,
	fv_shm_unmap,
	fv_fetch,
	fv_unfetch,
};


/* ---- the VFS ---- */

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct fv_file *p = (struct fv_file *)f;
	int rc;

	(void)vfs;
	memset(p, 0, sizeof(*p));
	p->real = (sqlite3_file *)(p + 1);
	rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
	if(rc != SQLITE_OK) {
		return rc;
	}
	if(name != NULL && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL))) {
		pthread_mutex_lock(&lock);
		p->img = image_for(name);
		rc = p->img ? load(p->img, p->real) : SQLITE_NOMEM;
		pthread_mutex_unlock(&lock);
		if(rc != SQLITE_OK) {
			p->real->pMethods->xClose(p->real);
			return rc;
		}
	}
	p->base.pMethods = &fv_methods;
	return SQLITE_OK;
}


static int fv_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	pthread_mutex_lock(&lock);
	image_forget(name);
	pthread_mutex_unlock(&lock);
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}


static int fv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}


static int fv_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}


static int fv_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}


static int fv_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}


static int fv_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, out);
}


static int fv_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, out);
}


static int fv_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}


__attribute__((constructor)) static void faultvfs_register(void)
{
	const char *ctl = getenv("MQCHAT_FAULTVFS_CTL");

	real_vfs = sqlite3_vfs_find("unix");
	if(real_vfs == NULL) {
		fprintf(stderr, "faultvfs: no unix VFS\n");
		abort();
	}
	ctl_dir = ctl && *ctl ? ctl : NULL;
	fv_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct fv_file) + real_vfs->szOsFile,
		.mxPathname = real_vfs->mxPathname,
		.zName = "faultvfs",
		.xOpen = fv_open,
		.xDelete = fv_delete,
		.xAccess = fv_access,
		.xFullPathname = fv_full_pathname,
		.xDlOpen = NULL,
		.xRandomness = fv_randomness,
		.xSleep = fv_sleep,
		.xCurrentTime = fv_current_time,
		.xGetLastError = fv_last_error,
		.xCurrentTimeInt64 = fv_current_time_int64,
	};
	if(sqlite3_vfs_register(&fv_vfs, 1) != SQLITE_OK) {
		fprintf(stderr, "faultvfs: cannot register\n");
		abort();
	}
	fprintf(stderr, "faultvfs: registered as the default VFS%s%s\n", ctl_dir ? ", faults from " : "",
		ctl_dir ? ctl_dir : "");
}
