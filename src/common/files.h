// Small file-system helpers shared by the daemons and the CLI.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace kojo {

struct AtomicWriteOptions {
  int mode = 0644;
  // fsync before the rename: the new content survives a machine crash, not
  // only a crash of the process. Costs a disk flush.
  bool sync = true;
};

// Writes `text` to PATH.tmp, then renames it over `path`: a reader (or a
// restart after a crash) sees the old content or the new, never a mix.
// The folder must exist. Errors name the file.
Status WriteFileAtomic(const std::string& path, const std::string& text,
                       AtomicWriteOptions options = {});

// Writes `text` over `path` from offset 0 (creating it if missing) and then
// cuts the file to that length, instead of truncating it to 0 first: a
// file rewritten this way keeps its disk blocks (see agent/spare_files.h).
// Not atomic: for files that nothing reads while they are being written.
// False (with errno) on failure.
bool WriteFileInPlace(const std::string& path, std::string_view text);

// `bytes` random bytes from the kernel (getrandom) as lower-case hex
// (tokens, keys); an error, never predictable bytes, when it has none.
Result<std::string> RandomHex(int bytes = 16);

}  // namespace kojo
