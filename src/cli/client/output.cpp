#include "cli/client/output.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "cli/client/error.hpp"

namespace berth::cli::client {
namespace json = boost::json;
namespace {

// --- json -------------------------------------------------------------------------------------

void pretty(std::string& out, const json::value& value, size_t indent) {
  const std::string inner(indent + 2, ' ');
  if (value.is_object() && !value.as_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [key, item] : value.as_object()) {
      if (!first) out += ",\n";
      first = false;
      out += inner + json::serialize(json::value(key)) + ": ";
      pretty(out, item, indent + 2);
    }
    out.append(1, '\n').append(indent, ' ').append(1, '}');
  } else if (value.is_array() && !value.as_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& item : value.as_array()) {
      if (!first) out += ",\n";
      first = false;
      out += inner;
      pretty(out, item, indent + 2);
    }
    out.append(1, '\n').append(indent, ' ').append(1, ']');
  } else {
    out += json::serialize(value);
  }
}

// --- table and tsv ----------------------------------------------------------------------------

bool isScalar(const json::value& v) { return !v.is_object() && !v.is_array(); }

bool isScalarArray(const json::value& v) {
  return v.is_array() && std::all_of(v.as_array().begin(), v.as_array().end(), isScalar);
}

// A cell keeps to one line: tabs and line breaks would break the columns.
std::string cell(const json::value& v) {
  std::string text;
  if (v.is_null()) {
    text = "";
  } else if (v.is_string()) {
    text = std::string(v.as_string());
  } else if (v.is_array()) {
    for (const auto& item : v.as_array()) {
      if (!text.empty()) text += ", ";
      text += cell(item);
    }
  } else {
    text = json::serialize(v);
  }
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return text;
}

using Column = std::vector<std::string>;  // the path of keys to a cell: {"sku", "name"}

void addColumn(std::vector<Column>& columns, Column column) {
  if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
    columns.push_back(std::move(column));
  }
}

void collectColumns(const json::object& row, std::vector<Column>& columns) {
  for (const auto& [key, value] : row) {
    if (isScalar(value) || isScalarArray(value)) {
      addColumn(columns, {std::string(key)});
    } else if (value.is_object()) {
      for (const auto& [inner, innerValue] : value.as_object()) {
        if (isScalar(innerValue) || isScalarArray(innerValue)) {
          addColumn(columns, {std::string(key), std::string(inner)});
        }
      }
    }
  }
}

const json::value* lookup(const json::object& row, const Column& column) {
  const json::value* value = row.if_contains(column[0]);
  if (value != nullptr && column.size() == 2) {
    value = value->is_object() ? value->as_object().if_contains(column[1]) : nullptr;
  }
  return value;
}

std::string heading(const Column& column) {
  std::string text;
  for (const auto& part : column) {
    if (!text.empty()) text += ".";
    std::string word = part;
    if (!word.empty())
      word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
    text += word;
  }
  return text;
}

// The rows and, for objects, the columns of a value; scalars become one "Result" column.
struct Grid {
  std::vector<std::string> headings;
  std::vector<std::vector<std::string>> rows;
};

Grid gridOf(const json::value& value) {
  Grid grid;
  std::vector<const json::value*> items;
  if (value.is_array()) {
    for (const auto& item : value.as_array()) items.push_back(&item);
  } else {
    items.push_back(&value);
  }
  const bool objects =
      std::any_of(items.begin(), items.end(), [](const json::value* v) { return v->is_object(); });
  if (!objects) {
    grid.headings = {"Result"};
    for (const auto* item : items) grid.rows.push_back({cell(*item)});
    return grid;
  }
  std::vector<Column> columns;
  for (const auto* item : items) {
    if (item->is_object()) collectColumns(item->as_object(), columns);
  }
  // A wrapper such as {"value": [...]} has nothing to show but its list: show the list.
  if (columns.empty() && value.is_object()) {
    const json::value* only = nullptr;
    size_t arrays = 0;
    for (const auto& [key, item] : value.as_object()) {
      if (item.is_array()) {
        only = &item;
        ++arrays;
      }
    }
    if (arrays == 1) return gridOf(*only);
  }
  for (const auto& column : columns) grid.headings.push_back(heading(column));
  for (const auto* item : items) {
    if (!item->is_object()) continue;
    std::vector<std::string> row;
    for (const auto& column : columns) {
      const json::value* v = lookup(item->as_object(), column);
      row.push_back(v == nullptr ? std::string() : cell(*v));
    }
    grid.rows.push_back(std::move(row));
  }
  return grid;
}

std::string renderTable(const Grid& grid) {
  if (grid.rows.empty() || grid.headings.empty()) return {};
  std::vector<size_t> widths;
  for (const auto& h : grid.headings) widths.push_back(h.size());
  for (const auto& row : grid.rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(widths[i] - cells[i].size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  line(grid.headings);
  std::vector<std::string> rule;
  for (size_t w : widths) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : grid.rows) line(row);
  return out;
}

std::string renderTsv(const Grid& grid) {
  std::string out;
  for (const auto& row : grid.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += '\t';
      out += row[i];
    }
    out += '\n';
  }
  return out;
}

}  // namespace

// --- --query ----------------------------------------------------------------------------------

Query::Query(const std::string& text) : text_(text) {
  const auto bad = [&](const std::string& why) {
    return ClientError("--query \"" + text_ + "\": " + why);
  };
  size_t i = 0;
  bool expectSegment = true;  // after a '.' (or at the start) a segment must follow
  while (i < text.size()) {
    if (text[i] == '[') {
      const size_t close = text.find(']', i);
      if (close == std::string::npos) throw bad("unclosed [");
      const std::string inside = text.substr(i + 1, close - i - 1);
      if (inside.empty()) {
        steps_.emplace_back(Project{});
      } else if (std::all_of(inside.begin(), inside.end(),
                             [](unsigned char c) { return std::isdigit(c); }) &&
                 inside.size() < 10) {
        steps_.emplace_back(Index{std::stoul(inside)});
      } else {
        throw bad("[" + inside + "] is neither [] nor an index");
      }
      i = close + 1;
      expectSegment = false;
    } else if (text[i] == '.') {
      if (expectSegment) throw bad("empty segment");
      expectSegment = true;
      ++i;
    } else {
      if (!expectSegment)
        throw bad("a '.' must separate \"" + text.substr(0, i) + "\" from what follows");
      size_t end = i;
      while (end < text.size() && text[end] != '.' && text[end] != '[') ++end;
      steps_.emplace_back(Field{text.substr(i, end - i)});
      i = end;
      expectSegment = false;
    }
  }
  if (!text.empty() && expectSegment) throw bad("ends with '.'");
}

json::value Query::apply(const json::value& value) const {
  // walk returns nothing when the path does not exist in `v`.
  const auto walk = [this](const auto& self, const json::value& v,
                           size_t step) -> std::optional<json::value> {
    if (step == steps_.size()) return v;
    const Step& s = steps_[step];
    if (std::holds_alternative<Project>(s)) {
      if (!v.is_array()) return std::nullopt;
      json::array out;
      for (const auto& item : v.as_array()) {
        if (auto selected = self(self, item, step + 1)) out.push_back(std::move(*selected));
      }
      return json::value(std::move(out));
    }
    if (const auto* index = std::get_if<Index>(&s)) {
      if (!v.is_array() || index->position >= v.as_array().size()) return std::nullopt;
      return self(self, v.as_array()[index->position], step + 1);
    }
    const std::string& name = std::get<Field>(s).name;
    if (v.is_object()) {
      const auto* field = v.as_object().if_contains(name);
      if (field == nullptr) return std::nullopt;
      return self(self, *field, step + 1);
    }
    // `passwords.0.value`: a number after a dot indexes an array.
    if (v.is_array() && !name.empty() && name.size() < 10 &&
        std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); })) {
      const size_t position = std::stoul(name);
      if (position >= v.as_array().size()) return std::nullopt;
      return self(self, v.as_array()[position], step + 1);
    }
    return std::nullopt;
  };
  auto selected = walk(walk, value, 0);
  if (!selected) throw ClientError("--query \"" + text_ + "\" selects nothing in the result");
  return std::move(*selected);
}

Format parseFormat(const std::string& text) {
  if (text == "json") return Format::Json;
  if (text == "table") return Format::Table;
  if (text == "tsv") return Format::Tsv;
  throw ClientError("--output must be json, table or tsv, not \"" + text + "\"");
}

std::string render(const json::value& value, Format format) {
  switch (format) {
    case Format::Json: {
      std::string out;
      pretty(out, value, 0);
      return out + "\n";
    }
    case Format::Table:
      return renderTable(gridOf(value));
    case Format::Tsv:
      return renderTsv(gridOf(value));
  }
  return {};
}

}  // namespace berth::cli::client
