// The state of one chat conversation (`loam chat`) and its KV cache. The cache holds the tokens of the
// conversation so far, so a new turn evaluates only its own tokens: the prompt is rendered for
// the whole conversation and only the text after what the cache already holds is tokenized.
// When that does not fit, the oldest turns are dropped (the system prompt is kept) and the kept
// conversation is evaluated again from the start.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "loam/session.h"
#include "loam/status.h"
#include "loam/tokenizer.h"
#include "text/chat_template.h"

namespace loam {

class ChatConversation {
 public:
  // `system_prompt` "" = none. `add_bos`: the vocabulary's tokenizer.ggml.add_bos_token.
  ChatConversation(Session& session, const Tokenizer& tokenizer, const ChatTemplate& chat_template,
                   bool add_bos, std::string system_prompt);

  // What starting a user turn takes.
  struct TurnPlan {
    std::vector<ChatMessage> messages;  // the conversation with the new user message last
    std::string prompt_text;            // messages rendered with the generation prompt
    std::vector<int32_t> tokens;        // tokens to evaluate (all of them when from_start)
    bool from_start = false;            // the cache is cleared and the prompt evaluated whole
    int dropped_turns = 0;              // earlier user+assistant turns left out to make room
  };

  // Plans the turn for `user_text`, keeping room for `answer_room` tokens of answer when it can
  // (fewer when the conversation is cut down to the system prompt and this message). Fails when
  // even that does not fit in the context. Changes nothing.
  Status plan_turn(const std::string& user_text, int answer_room, TurnPlan& plan) const;

  // Evaluates the plan's tokens in pieces, asking `stop` between pieces. Returns false in
  // `completed` when stopped (the turn is then forgotten and the cache is rebuilt next time).
  Status evaluate(const TurnPlan& plan, const std::function<bool()>& stop, bool& completed);

  // Records the answer. `cache_matches` says the cache holds exactly the plan's prompt followed
  // by the answer's tokens (false when the answer was cut by an end-of-turn text that the model
  // spelled in several tokens, or the context filled before the last token went in).
  void finish_turn(TurnPlan&& plan, std::string answer, bool cache_matches);

  // Forgets every turn but the system prompt and clears the cache.
  void reset();

  int turns() const;  // user messages in the conversation
  const std::vector<ChatMessage>& messages() const { return messages_; }

 private:
  std::vector<int32_t> tokenize(const std::string& text, bool with_bos) const;

  Session* session_;
  const Tokenizer* tokenizer_;
  const ChatTemplate* template_;
  bool add_bos_;
  std::vector<ChatMessage> messages_;  // system prompt (if any), then user/assistant pairs
  bool has_system_ = false;
  // The conversation text the cache holds (rendered prompt + the answer as decoded); valid only
  // while cache_valid_, else the next turn starts from an empty cache.
  std::string cached_text_;
  bool cache_valid_ = false;
};

}  // namespace loam
