#include "text/chat_messages.h"

#include <string>
#include <utility>

#include "core/json.h"

namespace loam {

Status parse_chat_messages(std::string_view json_text, std::vector<ChatMessage>& out) {
  json::Value doc;
  if (Status st = json::parse(json_text, doc); !st) {
    return Status::error("messages: " + st.message());
  }
  if (!doc.is_array()) {
    return Status::error("messages: expected a JSON array of {\"role\", \"content\"} objects");
  }
  std::vector<ChatMessage> messages;
  const json::Array& items = doc.as_array();
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!items[i].is_object()) return Status::error(where + ": expected an object");
    ChatMessage m;
    bool has_role = false, has_content = false;
    for (const json::Member& member : items[i].as_object()) {
      // Extra members (name, tool_calls, ...) would change what a real template renders; refuse
      // them rather than silently render something else.
      if (member.first != "role" && member.first != "content") {
        return Status::error(where + ": unexpected member \"" + member.first +
                             "\" (only \"role\" and \"content\")");
      }
      if (!member.second.is_string()) {
        return Status::error(where + "." + member.first + ": expected a string");
      }
      if (member.first == "role") {
        m.role = member.second.as_string();
        has_role = true;
      } else {
        m.content = member.second.as_string();
        has_content = true;
      }
    }
    if (!has_role) return Status::error(where + ": missing \"role\"");
    if (!has_content) return Status::error(where + ": missing \"content\"");
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      return Status::error(where + ".role: \"" + m.role +
                           "\" is not one of \"system\", \"user\", \"assistant\"");
    }
    messages.push_back(std::move(m));
  }
  if (messages.empty()) return Status::error("messages: the array is empty");
  out = std::move(messages);
  return Status::ok();
}

}  // namespace loam
