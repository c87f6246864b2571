// The part of {fmt} that `kojo` uses, compiled into the executable from the
// installed headers (as libfmt.so is compiled from them), so that the CLI
// needs no libfmt.so -- which would bring the shared libstdc++ along -- and
// can link libstdc++ statically: each start of `kojo` then skips loading
// and binding against both libraries (docs/results.md, section 9). The
// list below is the char half of {fmt} 9's src/format.cc; src/CMakeLists.txt
// checks after the link that kojo needs neither shared library.
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);
}  // namespace detail
FMT_END_NAMESPACE
