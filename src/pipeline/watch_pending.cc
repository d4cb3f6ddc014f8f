#include "pipeline/watch_pending.h"

#include "pipeline/ingest.h"

namespace imgsearch::pipeline {

using Kind = base::WatchEvent::Kind;

void PendingFiles::Heard(const base::WatchEvent& event, double now) {
  if (event.kind == Kind::kOverflow) return;
  if (!event.is_directory && !LooksLikeImageFile(event.path)) return;
  if (event.is_directory && event.kind != Kind::kRemoved) return;
  Entry& entry = entries_[event.path];
  entry.last_event = now;
  switch (event.kind) {
    case Kind::kWritten:
      entry.open_writer = true;
      break;
    case Kind::kClosed:
    case Kind::kMovedIn:
      entry.open_writer = false;
      entry.needs_settle = false;
      break;
    case Kind::kRemoved:
      entry.open_writer = false;
      entry.was_directory = entry.was_directory || event.is_directory;
      break;
    case Kind::kTouched:
    case Kind::kOverflow:
      break;
  }
}

void PendingFiles::Found(const std::string& path, double now) {
  auto [it, added] = entries_.try_emplace(path);
  if (!added) return;  // already heard of: its own rules stand
  it->second.needs_settle = true;
  it->second.last_event = now;
}

bool PendingFiles::BeingWritten(const std::string& path) const {
  auto it = entries_.find(path);
  return it != entries_.end() && it->second.open_writer;
}

PendingFiles::Verdict PendingFiles::Judge(const std::string& path, Entry& entry, double now,
                                          const StatFunction& stat) const {
  if (now - entry.last_event < options_.quiet_seconds) return Verdict::kWait;
  Result<base::FileStat> st = stat(path);
  if (!st.ok() && st.status().code() != StatusCode::kNotFound) return Verdict::kDrop;
  // Gone: removed after twice the quiet time, so that the other half of a rename (heard
  // within the quiet time) is indexed first and keeps the image.
  if (!st.ok())
    return now - entry.last_event >= 2 * options_.quiet_seconds ? Verdict::kRemoved
                                                                : Verdict::kWait;
  if (!st->is_regular || !LooksLikeImageFile(path)) return Verdict::kDrop;
  if (!entry.seen || st->size != entry.size || st->mtime_ns != entry.mtime_ns) {
    bool first = !entry.seen;
    entry.seen = true;
    entry.size = st->size;
    entry.mtime_ns = st->mtime_ns;
    entry.stable_since = now;
    // A closed file, unchanged since its close was heard: complete.
    if (!(first && !entry.open_writer && !entry.needs_settle)) return Verdict::kWait;
  }
  if (entry.open_writer) {
    return now - entry.stable_since >= options_.open_writer_seconds ? Verdict::kIndex
                                                                    : Verdict::kWait;
  }
  if (entry.needs_settle)
    return now - entry.stable_since >= options_.settle_seconds ? Verdict::kIndex : Verdict::kWait;
  return Verdict::kIndex;
}

ReadyFiles PendingFiles::TakeReady(double now, const StatFunction& stat, size_t max_files) {
  ReadyFiles ready;
  for (auto it = entries_.begin(); it != entries_.end();) {
    Verdict verdict = Judge(it->first, it->second, now, stat);
    if (verdict == Verdict::kIndex && ready.index.size() >= max_files) verdict = Verdict::kWait;
    switch (verdict) {
      case Verdict::kWait:
        ++it;
        continue;
      case Verdict::kIndex:
        ready.index.push_back(it->first);
        break;
      case Verdict::kRemoved:
        ready.removed.push_back(it->first);
        if (it->second.was_directory) ready.removed_dirs.push_back(it->first);
        break;
      case Verdict::kDrop:
        break;
    }
    it = entries_.erase(it);
  }
  return ready;
}

}  // namespace imgsearch::pipeline
