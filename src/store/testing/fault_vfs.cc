#include "store/testing/fault_vfs.h"

#include <atomic>
#include <cerrno>

namespace imgsearch::store::testing {
namespace {

// Our sqlite3_file: SQLite allocates szOsFile bytes; the default VFS's own file object
// follows this header in the same allocation.
struct FaultFile {
  sqlite3_file base;
  FaultVfs* vfs;
  const char* name;  // SQLite keeps it valid until xClose; null for temporary files
};

sqlite3_file* Real(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<FaultFile*>(file) + 1);
}

FaultVfs* VfsOf(sqlite3_file* file) {
  return reinterpret_cast<FaultFile*>(file)->vfs;
}

// The SQLite code for a failed call of the given kind, or SQLITE_OK to go ahead.
int Check(sqlite3_file* file, const char* call, int io_error) {
  const char* name = reinterpret_cast<FaultFile*>(file)->name;
  int error = VfsOf(file)->plan()->Check(std::string(call) + " " + (name ? name : "(temp)"));
  if (error == 0) return SQLITE_OK;
  return error == ENOSPC ? SQLITE_FULL : io_error;
}

int Close(sqlite3_file* file) {
  sqlite3_file* real = Real(file);
  return real->pMethods->xClose(real);
}
int Read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (int rc = Check(file, "read", SQLITE_IOERR_READ)) return rc;
  return Real(file)->pMethods->xRead(Real(file), out, amount, offset);
}
int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  if (int rc = Check(file, "write", SQLITE_IOERR_WRITE)) return rc;
  return Real(file)->pMethods->xWrite(Real(file), data, amount, offset);
}
int Truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = Check(file, "truncate", SQLITE_IOERR_TRUNCATE)) return rc;
  return Real(file)->pMethods->xTruncate(Real(file), size);
}
int Sync(sqlite3_file* file, int flags) {
  if (int rc = Check(file, "fsync", SQLITE_IOERR_FSYNC)) return rc;
  return Real(file)->pMethods->xSync(Real(file), flags);
}
int FileSize(sqlite3_file* file, sqlite3_int64* size) {
  return Real(file)->pMethods->xFileSize(Real(file), size);
}
int Lock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xLock(Real(file), level);
}
int Unlock(sqlite3_file* file, int level) {
  return Real(file)->pMethods->xUnlock(Real(file), level);
}
int CheckReservedLock(sqlite3_file* file, int* out) {
  return Real(file)->pMethods->xCheckReservedLock(Real(file), out);
}
int FileControl(sqlite3_file* file, int op, void* arg) {
  return Real(file)->pMethods->xFileControl(Real(file), op, arg);
}
int SectorSize(sqlite3_file* file) {
  return Real(file)->pMethods->xSectorSize(Real(file));
}
int DeviceCharacteristics(sqlite3_file* file) {
  return Real(file)->pMethods->xDeviceCharacteristics(Real(file));
}
int ShmMap(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return Real(file)->pMethods->xShmMap(Real(file), region, size, extend, out);
}
int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  return Real(file)->pMethods->xShmLock(Real(file), offset, n, flags);
}
void ShmBarrier(sqlite3_file* file) {
  Real(file)->pMethods->xShmBarrier(Real(file));
}
int ShmUnmap(sqlite3_file* file, int delete_flag) {
  return Real(file)->pMethods->xShmUnmap(Real(file), delete_flag);
}
// Memory-mapped reads are declined (*out = null), so that every read is an xRead and
// can fail; SQLite then reads as it would without mmap.
int Fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int Unfetch(sqlite3_file*, sqlite3_int64, void*) {
  return SQLITE_OK;
}

const sqlite3_io_methods kFileMethods = {
    3,
    Close,
    Read,
    Write,
    Truncate,
    Sync,
    FileSize,
    Lock,
    Unlock,
    CheckReservedLock,
    FileControl,
    SectorSize,
    DeviceCharacteristics,
    ShmMap,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
};

FaultVfs* Self(sqlite3_vfs* vfs) {
  return static_cast<FaultVfs*>(vfs->pAppData);
}

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* header = reinterpret_cast<FaultFile*>(file);
  header->base.pMethods = nullptr;  // SQLite calls no xClose after a failed open
  header->vfs = Self(vfs);
  header->name = name;
  if (int rc = Check(file, "open", SQLITE_CANTOPEN)) return rc;
  sqlite3_vfs* real = Self(vfs)->real();
  int rc = real->xOpen(real, name, Real(file), flags, out_flags);
  if (rc == SQLITE_OK) header->base.pMethods = &kFileMethods;
  return rc;
}
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  int error = Self(vfs)->plan()->Check(std::string("delete ") + name);
  if (error != 0) return SQLITE_IOERR_DELETE;
  return Self(vfs)->real()->xDelete(Self(vfs)->real(), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Self(vfs)->real()->xAccess(Self(vfs)->real(), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return Self(vfs)->real()->xFullPathname(Self(vfs)->real(), name, size, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return Self(vfs)->real()->xDlOpen(Self(vfs)->real(), name);
}
void DlError(sqlite3_vfs* vfs, int size, char* out) {
  Self(vfs)->real()->xDlError(Self(vfs)->real(), size, out);
}
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Self(vfs)->real()->xDlSym(Self(vfs)->real(), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) {
  Self(vfs)->real()->xDlClose(Self(vfs)->real(), handle);
}
int Randomness(sqlite3_vfs* vfs, int size, char* out) {
  return Self(vfs)->real()->xRandomness(Self(vfs)->real(), size, out);
}
int Sleep(sqlite3_vfs* vfs, int microseconds) {
  return Self(vfs)->real()->xSleep(Self(vfs)->real(), microseconds);
}
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return Self(vfs)->real()->xCurrentTime(Self(vfs)->real(), out);
}
int GetLastError(sqlite3_vfs* vfs, int size, char* out) {
  return Self(vfs)->real()->xGetLastError(Self(vfs)->real(), size, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Self(vfs)->real()->xCurrentTimeInt64(Self(vfs)->real(), out);
}

}  // namespace

FaultVfs::FaultVfs(FaultPlan* plan) : plan_(plan), real_(sqlite3_vfs_find(nullptr)) {
  static std::atomic<int> serial{0};
  name_ = "imgsearch-fault-" + std::to_string(++serial);
  vfs_.iVersion = 2;
  vfs_.szOsFile = static_cast<int>(sizeof(FaultFile)) + real_->szOsFile;
  vfs_.mxPathname = real_->mxPathname;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = Open;
  vfs_.xDelete = Delete;
  vfs_.xAccess = Access;
  vfs_.xFullPathname = FullPathname;
  vfs_.xDlOpen = DlOpen;
  vfs_.xDlError = DlError;
  vfs_.xDlSym = DlSym;
  vfs_.xDlClose = DlClose;
  vfs_.xRandomness = Randomness;
  vfs_.xSleep = Sleep;
  vfs_.xCurrentTime = CurrentTime;
  vfs_.xGetLastError = GetLastError;
  vfs_.xCurrentTimeInt64 = CurrentTimeInt64;
  sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
}

FaultVfs::~FaultVfs() {
  sqlite3_vfs_unregister(&vfs_);
}

}  // namespace imgsearch::store::testing
