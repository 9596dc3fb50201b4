// Reads a conversation for `loam tokenize --messages`: a JSON array of {"role", "content"}
// objects, roles system/user/assistant, as the OpenAI-style chat APIs and Hugging Face's
// apply_chat_template take it.
#pragma once

#include <string_view>
#include <vector>

#include "loam/status.h"
#include "text/chat_template.h"

namespace loam {

// Parses `json_text` with the strict JSON reader. Fails with a one-line message naming the
// message index and field at fault (not an array, a member missing or not a string, an unknown
// role, an extra member).
Status parse_chat_messages(std::string_view json_text, std::vector<ChatMessage>& out);

}  // namespace loam
