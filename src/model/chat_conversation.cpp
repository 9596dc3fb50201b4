#include "model/chat_conversation.h"

#include <algorithm>
#include <utility>


namespace loam {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

ChatConversation::ChatConversation(Session& session, const Tokenizer& tokenizer,
                                   const ChatTemplate& chat_template, bool add_bos,
                                   std::string system_prompt)
    : session_(&session), tokenizer_(&tokenizer), template_(&chat_template), add_bos_(add_bos) {
  if (!system_prompt.empty()) {
    messages_.push_back({"system", std::move(system_prompt)});
    has_system_ = true;
  }
}

std::vector<int32_t> ChatConversation::tokenize(const std::string& text, bool with_bos) const {
  return tokenizer_->encode(text, with_bos, /*parse_special=*/true);
}

Status ChatConversation::plan_turn(const std::string& user_text, int answer_room,
                                   TurnPlan& plan) const {
  const int n_ctx = session_->context_length();
  const ChatMessage user{"user", user_text};

  // The usual case: the cache holds the conversation so far, and the new prompt text extends it.
  // The texts can disagree when the template rewrites an earlier answer (Llama 3 and Gemma trim
  // messages); then the conversation is evaluated again.
  if (cache_valid_ && session_->position() > 0) {
    TurnPlan p;
    p.messages = messages_;
    p.messages.push_back(user);
    p.prompt_text = template_->render(p.messages, true);
    if (starts_with(p.prompt_text, cached_text_) && p.prompt_text.size() > cached_text_.size()) {
      p.tokens = tokenize(p.prompt_text.substr(cached_text_.size()), false);
      if (session_->position() + static_cast<int64_t>(p.tokens.size()) + answer_room <= n_ctx) {
        plan = std::move(p);
        return Status::ok();
      }
    }
  }

  // From an empty cache, dropping the oldest user+assistant turns until prompt and answer fit.
  const size_t first_turn = has_system_ ? 1 : 0;
  for (size_t drop = 0;; drop = std::min(drop + 2, messages_.size() - first_turn)) {
    TurnPlan p;
    p.messages.assign(messages_.begin(), messages_.begin() + static_cast<long>(first_turn));
    p.messages.insert(p.messages.end(), messages_.begin() + static_cast<long>(first_turn + drop),
                      messages_.end());
    p.messages.push_back(user);
    p.prompt_text = template_->render(p.messages, true);
    p.tokens = tokenize(p.prompt_text, add_bos_);
    p.from_start = true;
    p.dropped_turns = static_cast<int>(drop / 2);
    const int64_t n = static_cast<int64_t>(p.tokens.size());
    const bool nothing_left_to_drop = first_turn + drop >= messages_.size();
    // Cut down to the system prompt and this message, a shorter answer is better than none.
    if (n + answer_room <= n_ctx || (nothing_left_to_drop && n < n_ctx)) {
      plan = std::move(p);
      return Status::ok();
    }
    if (nothing_left_to_drop) {
      return Status::error("the message is too long: its prompt" +
                           std::string(has_system_ ? " with the system prompt" : "") + " is " +
                           std::to_string(n) + " tokens, the context " + std::to_string(n_ctx) +
                           " tokens (-c)");
    }
  }
}

Status ChatConversation::evaluate(const TurnPlan& plan, const std::function<bool()>& stop,
                                  bool& completed) {
  completed = false;
  if (plan.tokens.empty()) return Status::error("internal: a turn with no tokens to evaluate");
  if (plan.from_start) {
    session_->reset();
    cache_valid_ = false;
  }
  const int start = session_->position();
  const int n_total = static_cast<int>(plan.tokens.size());
  int done = 0;
  while (done < n_total) {
    if (stop()) {
      // The cache goes back to what it held; after a fresh start there is nothing to go back to.
      session_->truncate(start);
      return Status::ok();
    }
    const int n = std::min(session_->max_batch(), n_total - done);
    if (Status st = session_->eval(plan.tokens.data() + done, n); !st) {
      cache_valid_ = false;
      return st;
    }
    done += n;
  }
  completed = true;
  return Status::ok();
}

void ChatConversation::finish_turn(TurnPlan&& plan, std::string answer, bool cache_matches) {
  cached_text_ = plan.prompt_text + answer;
  cache_valid_ = cache_matches;
  messages_ = std::move(plan.messages);
  messages_.push_back({"assistant", std::move(answer)});
}

void ChatConversation::reset() {
  messages_.resize(has_system_ ? 1 : 0);
  cached_text_.clear();
  cache_valid_ = false;
  session_->reset();
}

int ChatConversation::turns() const {
  return static_cast<int>(std::count_if(messages_.begin(), messages_.end(),
                                        [](const ChatMessage& m) { return m.role == "user"; }));
}

}  // namespace loam
