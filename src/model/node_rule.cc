#include "model/node_rule.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "model/node.h"

namespace kojo {

namespace {

constexpr size_t kMaxTerms = 256;
constexpr size_t kMaxConstraint = 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool FeatureChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == ':' || c == '+' ||
         c == '/';
}

using Dnf = std::vector<std::vector<std::string>>;

// Recursive descent over Slurm's constraint grammar:
//   expr   := term ('|' term)*
//   term   := factor (('&' | ',') factor)*
//   factor := NAME ['*' COUNT] | '(' expr ')' | '[' expr ']'
class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<Constraint> Run() {
    Constraint c;
    auto dnf = Expr(c);
    if (!dnf.ok()) return dnf.error();
    if (pos_ != s_.size()) return Fail(s_[pos_] == ')' || s_[pos_] == ']' ? "an unmatched bracket" : "an operator");
    c.any_of = std::move(*dnf);
    for (auto& t : c.any_of) {
      std::sort(t.begin(), t.end());
      t.erase(std::unique(t.begin(), t.end()), t.end());
    }
    return c;
  }

 private:
  Error Fail(std::string_view expected) const {
    return InvalidArgument(fmt::format("constraint '{}': expected {} at position {}", s_, expected, pos_ + 1));
  }

  Result<Dnf> Expr(Constraint& c) {
    auto left = Term(c);
    if (!left.ok()) return left;
    Dnf out = std::move(*left);
    while (pos_ < s_.size() && s_[pos_] == '|') {
      ++pos_;
      auto right = Term(c);
      if (!right.ok()) return right;
      for (auto& t : *right) out.push_back(std::move(t));
      if (out.size() > kMaxTerms) return Fail(fmt::format("at most {} alternatives", kMaxTerms));
    }
    return out;
  }

  Result<Dnf> Term(Constraint& c) {
    auto left = Factor(c);
    if (!left.ok()) return left;
    Dnf out = std::move(*left);
    while (pos_ < s_.size() && (s_[pos_] == '&' || s_[pos_] == ',')) {
      ++pos_;
      auto right = Factor(c);
      if (!right.ok()) return right;
      if (out.size() * right->size() > kMaxTerms) return Fail(fmt::format("at most {} alternatives", kMaxTerms));
      Dnf product;
      for (const auto& a : out)
        for (const auto& b : *right) {
          auto t = a;
          t.insert(t.end(), b.begin(), b.end());
          product.push_back(std::move(t));
        }
      out = std::move(product);
    }
    return out;
  }

  Result<Dnf> Factor(Constraint& c) {
    if (pos_ < s_.size() && (s_[pos_] == '(' || s_[pos_] == '[')) {
      const char close = s_[pos_] == '(' ? ')' : ']';
      if (close == ']') c.matching = true;
      ++pos_;
      auto inner = Expr(c);
      if (!inner.ok()) return inner;
      if (pos_ >= s_.size() || s_[pos_] != close) return Fail(fmt::format("'{}'", close));
      ++pos_;
      return inner;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && FeatureChar(s_[pos_])) ++pos_;
    if (pos_ == start) return Fail("a feature name");
    std::string name = Lower(s_.substr(start, pos_ - start));
    if (pos_ < s_.size() && s_[pos_] == '*') {
      ++pos_;
      const size_t digits = pos_;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      if (pos_ == digits) return Fail("a node count after '*'");
      c.counts = true;
    }
    return Dnf{{std::move(name)}};
  }

  std::string_view s_;
  size_t pos_ = 0;
};

bool HasFeature(const NodeSpec& spec, const std::string& f) {
  return std::binary_search(spec.features.begin(), spec.features.end(), f) || EqualsNoCase(spec.gpu_model, f);
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool Matches(const Constraint& c, const NodeSpec& spec) {
  if (c.any_of.empty()) return true;
  return std::any_of(c.any_of.begin(), c.any_of.end(), [&](const std::vector<std::string>& term) {
    return std::all_of(term.begin(), term.end(), [&](const std::string& f) { return HasFeature(spec, f); });
  });
}

}  // namespace

Result<Constraint> ParseConstraint(std::string_view text) {
  if (text.empty()) return Constraint{};
  if (text.size() > kMaxConstraint)
    return InvalidArgument(fmt::format("constraint: at most {} characters, got {}", kMaxConstraint, text.size()));
  return Parser(text).Run();
}

Status NodeRule::SetConstraint(std::string text) {
  auto c = ParseConstraint(text);
  if (!c.ok()) return c.error();
  constraint = std::move(text);
  parsed = std::move(*c);
  return Ok{};
}

bool RentAllows(const NodeRule* rule, const NodeSpec& spec) {
  if (spec.provider.empty()) return true;
  if (rule == nullptr) return spec.rent_account.empty();
  return !rule->no_rent && (spec.rent_account.empty() || rule->account == spec.rent_account);
}

bool NodeRule::Allows(const NodeSpec& spec) const {
  if (!RentAllows(this, spec)) return false;
  if (!nodelist.empty() && !Contains(nodelist, spec.name)) return false;
  if (!exclude.empty() && Contains(exclude, spec.name)) return false;
  if (!partitions.empty() &&
      std::none_of(spec.partitions.begin(), spec.partitions.end(),
                   [&](const std::string& p) { return Contains(partitions, p); }))
    return false;
  return Matches(parsed, spec);
}

std::vector<NodeRule> NodeRule::Alternatives() const {
  if (!parsed.matching || parsed.any_of.size() < 2) return {*this};
  std::vector<NodeRule> out;
  for (const auto& term : parsed.any_of) {
    NodeRule one = *this;
    one.parsed.any_of = {term};
    one.parsed.matching = false;
    out.push_back(std::move(one));
  }
  return out;
}

std::string NodeRule::Describe() const {
  std::vector<std::string> parts;
  if (!constraint.empty()) parts.push_back(fmt::format("constraint {}", constraint));
  if (!partitions.empty()) parts.push_back(fmt::format("partition {}", fmt::join(partitions, "|")));
  if (!nodelist.empty()) parts.push_back(fmt::format("nodes {}", fmt::join(nodelist, ",")));
  if (!exclude.empty()) parts.push_back(fmt::format("not nodes {}", fmt::join(exclude, ",")));
  if (no_rent) parts.push_back("owned nodes only");
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string NodeRule::Key() const {
  if (Empty() && account.empty()) return "";
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", constraint, fmt::join(partitions, ","),
                     fmt::join(nodelist, ","), fmt::join(exclude, ","), no_rent ? "owned" : "", account);
}

std::vector<std::string> NodeFeatures(const std::vector<std::string>& given, std::string_view gpu_model) {
  std::vector<std::string> out;
  out.reserve(given.size() + 1);
  for (const auto& f : given)
    if (!f.empty()) out.push_back(Lower(f));
  if (!gpu_model.empty()) out.push_back(Lower(gpu_model));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Partition::Holds(const NodeSpec& spec) const {
  if (!nodes.empty() && !Contains(nodes, spec.name)) return false;
  if (features.empty()) return true;
  auto c = ParseConstraint(features);
  return c.ok() && Matches(*c, spec);
}

bool Partition::AllowsProject(std::string_view project) const { return projects.empty() || Contains(projects, project); }

std::vector<std::string> PartitionsOf(const std::vector<Partition>& partitions, const NodeSpec& spec) {
  std::vector<std::string> out;
  for (const auto& p : partitions)
    if (p.Holds(spec)) out.push_back(p.name);
  return out;
}

Result<Admitted> AdmitToPartitions(const std::vector<Partition>& partitions, const std::vector<std::string>& asked,
                                   std::string_view project, std::optional<Seconds> time_limit) {
  Admitted out;
  out.time_limit = time_limit;
  // No partitions defined: every node is one pool and a name asks nothing.
  if (partitions.empty()) return out;
  std::vector<const Partition*> wanted;
  for (const auto& name : asked) {
    if (name.empty()) continue;
    auto it = std::find_if(partitions.begin(), partitions.end(), [&](const Partition& p) { return p.name == name; });
    if (it == partitions.end()) {
      std::vector<std::string> known;
      for (const auto& p : partitions) known.push_back(p.name);
      return InvalidArgument(fmt::format("partition: no partition named '{}' (known: {})", name, fmt::join(known, ", ")));
    }
    if (std::find(wanted.begin(), wanted.end(), &*it) == wanted.end()) wanted.push_back(&*it);
  }
  if (wanted.empty())
    for (const auto& p : partitions)
      if (p.is_default) wanted.push_back(&p);
  if (wanted.empty()) return out;  // none asked, none default: any node
  std::string refusal;
  for (const Partition* p : wanted) {
    if (!p->AllowsProject(project)) {
      if (refusal.empty())
        refusal = fmt::format("partition: project '{}' may not use partition '{}' (it allows {})", project, p->name,
                              fmt::join(p->projects, ", "));
      continue;
    }
    const std::optional<Seconds> t = time_limit ? time_limit : p->default_time ? p->default_time : p->max_time;
    if (p->max_time && t && *t > *p->max_time) {
      if (refusal.empty())
        refusal = fmt::format("time_limit_s: {} is over the max_time_s of partition '{}' ({})", *t, p->name,
                              *p->max_time);
      continue;
    }
    if (out.partitions.empty() && !time_limit) out.time_limit = t;
    out.partitions.push_back(p->name);
  }
  if (out.partitions.empty()) return InvalidArgument(refusal);
  return out;
}

}  // namespace kojo
