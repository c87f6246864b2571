#include "slurm/options.h"

#include <fmt/format.h>

namespace kojo::slurm {

Result<ParsedArgs> ParseArgs(const std::vector<std::string>& args, const std::vector<OptSpec>& specs,
                             bool stop_at_command) {
  ParsedArgs out;
  size_t i = 0;
  auto rest_positional = [&](size_t from) {
    for (size_t k = from; k < args.size(); ++k) out.positional.push_back(args[k]);
  };
  while (i < args.size()) {
    const std::string& a = args[i];
    if (a == "--") {
      rest_positional(i + 1);
      return out;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (stop_at_command) {
        rest_positional(i);
        return out;
      }
      out.positional.push_back(a);
      ++i;
      continue;
    }
    if (a[1] == '-') {
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const OptSpec* found = nullptr;
      std::vector<const OptSpec*> prefixed;
      for (const auto& s : specs) {
        if (s.name == name) {
          found = &s;
          break;
        }
        if (s.name.substr(0, name.size()) == name) prefixed.push_back(&s);
      }
      if (!found && prefixed.size() == 1) found = prefixed[0];
      if (!found) {
        if (prefixed.size() > 1) return InvalidArgument(fmt::format("option '--{}' is ambiguous", name));
        return InvalidArgument(fmt::format("unrecognized option '--{}'", name));
      }
      ParsedOpt o{std::string(found->name), "", "--" + std::string(found->name)};
      if (eq != std::string::npos) {
        if (found->arg == ArgKind::kNone)
          return InvalidArgument(fmt::format("option '--{}' doesn't allow an argument", found->name));
        o.value = a.substr(eq + 1);
      } else if (found->arg == ArgKind::kRequired) {
        if (i + 1 >= args.size()) return InvalidArgument(fmt::format("option '--{}' requires an argument", found->name));
        o.value = args[++i];
      }
      out.opts.push_back(std::move(o));
      ++i;
      continue;
    }
    for (size_t k = 1; k < a.size(); ++k) {
      const OptSpec* found = nullptr;
      for (const auto& s : specs)
        if (s.short_name != 0 && s.short_name == a[k]) found = &s;
      if (!found) return InvalidArgument(fmt::format("invalid option -- '{}'", a[k]));
      ParsedOpt o{std::string(found->name), "", std::string("-") + a[k]};
      if (found->arg != ArgKind::kNone) {
        if (k + 1 < a.size()) {
          o.value = a.substr(k + 1);
        } else if (found->arg == ArgKind::kRequired) {
          if (i + 1 >= args.size()) return InvalidArgument(fmt::format("option requires an argument -- '{}'", a[k]));
          o.value = args[++i];
        }
        out.opts.push_back(std::move(o));
        break;
      }
      out.opts.push_back(std::move(o));
    }
    ++i;
  }
  return out;
}

}  // namespace kojo::slurm
