#pragma once
#include <boost/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace berth::cli::client {

// `--query`: a dotted path such as `loginServer`, `passwords.0.value`, `[].name` or
// `tags[].name` (`[]` projects the rest of the path over every element of an array).
class Query {
 public:
  // Throws ClientError when `text` is not a valid path; an empty text selects everything.
  explicit Query(const std::string& text);

  // The selected value; throws ClientError when the path leads nowhere (outside a
  // projection; inside one, elements without the field are left out).
  boost::json::value apply(const boost::json::value& value) const;

 private:
  struct Field {
    std::string name;
  };
  struct Index {
    size_t position;
  };
  struct Project {};
  using Step = std::variant<Field, Index, Project>;

  std::string text_;
  std::vector<Step> steps_;
};

enum class Format { Json, Table, Tsv };

// Parses `--output`; throws ClientError for anything but json, table or tsv.
Format parseFormat(const std::string& text);

// json: pretty-printed, two spaces. table: a header and aligned columns, one row per object
// (the scalar fields, nested objects flattened one level as `a.b`, arrays of scalars joined
// with ", "). tsv: the table's rows without the header, tab-separated; a bare string prints as
// it is. Each ends with a newline unless it is empty.
std::string render(const boost::json::value& value, Format format);

}  // namespace berth::cli::client
