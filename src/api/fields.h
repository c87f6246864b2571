// Fields: a strict reader of one JSON object's fields for the API's
// decoders (codec.cc, org_config.cc). Internal to the api module.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "api/codec.h"
#include "common/result.h"

namespace kojo::api {

// Byte length of the longest prefix of `s` of at most `max` bytes that ends
// on a UTF-8 character boundary.
inline size_t Utf8Cut(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return n;
}

// A value as an error message quotes it: at most 40 bytes, and never more
// than that much of the value serialised. Lists and objects are described
// ("a list of 3 items"), not dumped: a deeply nested value would overflow
// the stack of a recursive dump, a huge one would fill the message.
inline std::string Short(const Json& v) {
  constexpr size_t kMax = 40;
  auto count = [](size_t n, const char* one, const char* many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
  };
  switch (v.type()) {
    case Json::value_t::array:
      return v.empty() ? "an empty list" : "a list of " + count(v.size(), "item", "items");
    case Json::value_t::object:
      return v.empty() ? "an empty object" : "an object of " + count(v.size(), "field", "fields");
    case Json::value_t::string: {
      // Cut before escaping: only a bounded prefix is ever serialised.
      const std::string& s = v.get_ref<const std::string&>();
      const size_t head = Utf8Cut(s, kMax);
      std::string out = Json(s.substr(0, head)).dump(-1, ' ', false, Json::error_handler_t::replace);
      if (head == s.size() && out.size() <= kMax) return out;
      out.resize(Utf8Cut(out, kMax - 3));
      return out + "...";
    }
    default:  // a number, true, false or null: a few bytes
      return v.dump();
  }
}

// Reads the fields of one JSON object, recording the first error. Field
// names in messages carry the path of the object ("jobs[3].gpus").
class Fields {
 public:
  Fields(const Json& j, std::string path, bool strict) : j_(j), path_(std::move(path)), strict_(strict) {
    if (!j_.is_object()) Fail(path_.empty() ? "body" : path_, "expected a JSON object, got " + Short(j_));
  }
  bool ok() const { return !error_; }
  Error error() const { return *error_; }
  std::string Path(std::string_view name) const {
    return path_.empty() ? std::string(name) : fmt::format("{}.{}", path_, name);
  }
  // Refuse NUL characters in every string read (and in map keys): for
  // what reaches exec and the filesystem, where a NUL silently cuts it.
  // Also refuses strings that are not UTF-8, which a document parsed from
  // JSON never holds but one built in memory (the CLI's job from a script
  // and its command line) may: it could not be sent.
  void RefuseNul() { refuse_nul_ = true; }
  // Under RefuseNul: that `s` is UTF-8 without NUL; else the error message.
  std::optional<std::string> BadInputText(std::string_view s) const {
    if (!refuse_nul_) return std::nullopt;
    if (s.find('\0') != std::string_view::npos) return "must not contain a NUL character";
    if (const size_t at = Utf8Invalid(s); at != std::string_view::npos)
      return fmt::format("expected UTF-8 text, got the byte 0x{:02X} at offset {}", static_cast<unsigned char>(s[at]), at);
    return std::nullopt;
  }
  // The field, or null when it is absent. A JSON null counts as absent only
  // for a `nullable` field (api/openapi.yaml); otherwise it is returned, for
  // the caller's type check to refuse ("expected ..., got null").
  const Json* Get(std::string_view name, bool required, bool nullable = false) {
    seen_.insert(std::string(name));
    if (error_ || !j_.is_object()) return nullptr;
    auto it = j_.find(name);
    if (it == j_.end() || (nullable && it->is_null())) {
      if (required) Fail(Path(name), "required");
      return nullptr;
    }
    return &*it;
  }
  template <typename T>
  void Int(std::string_view name, T& out, std::int64_t min, std::int64_t max, bool required = false) {
    const Json* v = Get(name, required);
    if (!v) return;
    if (!v->is_number_integer() ||
        (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))) {
      Fail(Path(name), fmt::format("expected an integer {}..{}, got {}", min, max, Short(*v)));
      return;
    }
    const std::int64_t x = v->get<std::int64_t>();
    if (x < min || x > max) {
      Fail(Path(name), fmt::format("expected an integer {}..{}, got {}", min, max, x));
      return;
    }
    out = static_cast<T>(x);
  }
  // An optional integer: absent (or null, where `nullable`) leaves `out` empty.
  template <typename T>
  void OptInt(std::string_view name, std::optional<T>& out, std::int64_t min, std::int64_t max, bool nullable = true) {
    if (const Json* v = Get(name, false, nullable); v) {
      T x{};
      seen_.erase(std::string(name));
      Int(name, x, min, max);
      if (ok()) out = x;
    }
  }
  void Str(std::string_view name, std::string& out, size_t max_len = 4096, bool required = false) {
    const Json* v = Get(name, required);
    if (!v) return;
    if (!v->is_string()) { Fail(Path(name), "expected a string, got " + Short(*v)); return; }
    out = v->get<std::string>();
    Text(Path(name), out, max_len);
  }
  // Checks a string read: at most `max_len` characters (code points, not
  // bytes) and, under RefuseNul, UTF-8 without NUL. False (and the error) if not.
  bool Text(const std::string& field, std::string_view s, size_t max_len) {
    if (s.size() > max_len) {
      if (const size_t n = Utf8Length(s); n > max_len) {
        Fail(field, fmt::format("expected at most {} characters, got {}", max_len, n));
        return false;
      }
    }
    if (auto bad = BadInputText(s)) {
      Fail(field, *bad);
      return false;
    }
    return true;
  }
  // A finite number in [min, max] (integers are numbers too).
  void Num(std::string_view name, double& out, double min, double max, bool required = false) {
    const Json* v = Get(name, required);
    if (!v) return;
    const double x = v->is_number() ? v->get<double>() : 0;
    if (!v->is_number() || !(x >= min && x <= max)) {
      Fail(Path(name), fmt::format("expected a number {}..{}, got {}", min, max, Short(*v)));
      return;
    }
    out = x;
  }
  void Bool(std::string_view name, bool& out) {
    const Json* v = Get(name, false);
    if (!v) return;
    if (!v->is_boolean()) { Fail(Path(name), "expected true or false, got " + Short(*v)); return; }
    out = v->get<bool>();
  }
  void StrList(std::string_view name, std::vector<std::string>& out, size_t max_items, size_t max_len) {
    const Json* v = Get(name, false);
    if (!v) return;
    if (!v->is_array() || v->size() > max_items) {
      Fail(Path(name), fmt::format("expected a list of at most {} strings, got {}", max_items, Short(*v)));
      return;
    }
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& e = (*v)[i];
      const std::string field = fmt::format("{}[{}]", Path(name), i);
      if (!e.is_string()) {
        Fail(field, fmt::format("expected a string of at most {} characters, got {}", max_len, Short(e)));
        return;
      }
      if (!Text(field, e.get_ref<const std::string&>(), max_len)) return;
      out.push_back(e.get<std::string>());
    }
  }
  void IntList(std::string_view name, std::vector<int>& out, int min, int max, size_t max_items) {
    const Json* v = Get(name, false);
    if (!v) return;
    if (!v->is_array() || v->size() > max_items) {
      Fail(Path(name), fmt::format("expected a list of at most {} integers, got {}", max_items, Short(*v)));
      return;
    }
    out.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& e = (*v)[i];
      if (!e.is_number_integer() || e.get<std::int64_t>() < min || e.get<std::int64_t>() > max) {
        Fail(fmt::format("{}[{}]", Path(name), i), fmt::format("expected an integer {}..{}, got {}", min, max, Short(e)));
        return;
      }
      out.push_back(e.get<int>());
    }
  }
  void StrMap(std::string_view name, std::map<std::string, std::string>& out, size_t max_items) {
    const Json* v = Get(name, false);
    if (!v) return;
    if (!v->is_object() || v->size() > max_items) {
      Fail(Path(name), fmt::format("expected an object of at most {} string values, got {}", max_items, Short(*v)));
      return;
    }
    for (auto it = v->begin(); it != v->end(); ++it) {
      if (refuse_nul_ && it.key().find('\0') != std::string::npos) {
        Fail(Path(name), fmt::format("a key must not contain a NUL character, got {}", Short(Json(it.key()))));
        return;
      }
      if (const size_t at = refuse_nul_ ? Utf8Invalid(it.key()) : std::string::npos; at != std::string::npos) {
        Fail(Path(name), fmt::format("expected keys of UTF-8 text, got the byte 0x{:02X} at offset {} of a key",
                                     static_cast<unsigned char>(it.key()[at]), at));
        return;
      }
      const std::string field = fmt::format("{}.{}", Path(name), it.key());
      if (!it.value().is_string()) { Fail(field, "expected a string, got " + Short(it.value())); return; }
      if (!Text(field, it.value().get_ref<const std::string&>(), SIZE_MAX)) return;
      out[it.key()] = it.value().get<std::string>();
    }
  }
  // Sub-object or list of sub-objects, decoded by `f`.
  template <typename T, typename F>
  void List(std::string_view name, std::vector<T>& out, F f, size_t max_items = 100000) {
    const Json* v = Get(name, false);
    if (!v) return;
    if (!v->is_array() || v->size() > max_items) {
      Fail(Path(name), fmt::format("expected a list of at most {} items, got {}", max_items, Short(*v)));
      return;
    }
    out.clear();
    for (size_t i = 0; i < v->size() && ok(); ++i) {
      Result<T> r = f((*v)[i], fmt::format("{}[{}]", Path(name), i));
      if (!r.ok()) { error_ = r.error(); return; }
      out.push_back(std::move(r.value()));
    }
  }
  template <typename T, typename F>
  void Object(std::string_view name, T& out, F f, bool required = false) {
    const Json* v = Get(name, required);
    if (!v) return;
    Result<T> r = f(*v, Path(name));
    if (!r.ok()) error_ = r.error();
    else out = std::move(r.value());
  }
  void Fail(std::string field, std::string what) {
    if (!error_) error_ = InvalidArgument(fmt::format("{}: {}", field, what));
  }
  // Strict objects: any field not read is an error.
  void Finish() {
    if (error_ || !strict_ || !j_.is_object()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) {
        Fail(Path(it.key()), "unknown field");
        return;
      }
  }

 private:
  const Json& j_;
  std::string path_;
  bool strict_;
  std::set<std::string> seen_;
  std::optional<Error> error_;
  bool refuse_nul_ = false;
};

template <typename T>
Result<T> Done(Fields& f, T value) {
  f.Finish();
  if (!f.ok()) return f.error();
  return value;
}

}  // namespace kojo::api
