// ChatConversation on ../shared/models/l3-tiny-f16.gguf (Meta's Llama 3 vocabulary and template):
// a second turn evaluates only its own tokens and leaves the same logits as evaluating the whole
// conversation at once; turns are dropped oldest first when the context fills (system prompt
// kept); a message too long for the context is refused; a stopped evaluation leaves the cache as
// it was. Expected ids come from llama.cpp (llama_chat_apply_template + llama_tokenize with
// add_special and parse_special, libllama built from /work/peers/llama.cpp) on
// ../shared/vectors/ggml-vocab-llama3.gguf, the same vocabulary.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "harness/test.h"
#include "loam/model.h"
#include "loam/session.h"
#include "loam/tokenizer.h"
#include "model/chat_conversation.h"
#include "text/chat_template.h"

using loam::ChatConversation;
using loam::ChatFamily;
using loam::ChatTemplate;

namespace {

struct Fixture {
  std::shared_ptr<loam::Model> model;
  std::unique_ptr<loam::Session> session;
  std::unique_ptr<loam::Tokenizer> tokenizer;
  ChatTemplate chat_template{ChatFamily::Llama3};
};

void load(Fixture& f, int n_ctx) {
  const std::string path = loam_test::shared_file("models/l3-tiny-f16.gguf");
  f.model = std::make_shared<loam::Model>();
  REQUIRE(loam::load_model(path, loam::LoadOptions{}, *f.model).is_ok());
  loam::SessionOptions options;
  options.n_ctx = n_ctx;
  options.n_threads = 2;
  REQUIRE(loam::Session::create(f.model, options, f.session).is_ok());
  f.tokenizer = std::make_unique<loam::Tokenizer>(f.model->vocab);
}

bool never() { return false; }

// Plans, evaluates and records a turn whose answer is `answer` (its tokens evaluated as if the
// model had produced them).
ChatConversation::TurnPlan turn(Fixture& f, ChatConversation& chat, const std::string& user,
                                const std::string& answer, int room) {
  ChatConversation::TurnPlan plan;
  const loam::Status st = chat.plan_turn(user, room, plan);
  if (!st) {
    ::loam_test::record_failure(__FILE__, __LINE__, "plan_turn: " + st.message());
    throw ::loam_test::StopCase{};
  }
  ChatConversation::TurnPlan copy = plan;
  bool completed = false;
  REQUIRE(chat.evaluate(plan, never, completed).is_ok());
  REQUIRE(completed);
  const std::vector<int32_t> answer_ids = f.tokenizer->encode(answer, false);
  if (!answer_ids.empty()) REQUIRE(f.session->eval(answer_ids).is_ok());
  chat.finish_turn(std::move(plan), answer, true);
  return copy;
}

}  // namespace

TEST_CASE("the second turn evaluates only its own tokens, with the logits of the whole prompt") {
  Fixture f;
  load(f, 256);
  ChatConversation chat(*f.session, *f.tokenizer, f.chat_template, true, "Be brief.");
  const ChatConversation::TurnPlan first = turn(f, chat, "Hi", "Hello", 16);
  // llama.cpp: system "Be brief." + user "Hi" with the generation prompt.
  const std::vector<int32_t> first_expected = {128000, 128006, 9125, 128007, 271, 3513, 10015,
                                               13, 128009, 128006, 882, 128007, 271, 13347,
                                               128009, 128006, 78191, 128007, 271};
  CHECK(first.from_start);
  CHECK(first.tokens == first_expected);
  const int after_first = f.session->position();
  CHECK_EQ(after_first, static_cast<int>(first_expected.size()) + 1);  // + "Hello" (9906)

  ChatConversation::TurnPlan second;
  REQUIRE(chat.plan_turn("What?", 16, second).is_ok());
  // llama.cpp on the text after "Hello": <|eot_id|> then the user turn and the assistant header.
  const std::vector<int32_t> delta = {128009, 128006, 882, 128007, 271, 3923, 30,
                                      128009, 128006, 78191, 128007, 271};
  CHECK(!second.from_start);
  CHECK(second.tokens == delta);
  CHECK_EQ(second.dropped_turns, 0);
  bool completed = false;
  REQUIRE(chat.evaluate(second, never, completed).is_ok());
  REQUIRE(completed);
  CHECK_EQ(f.session->position(), after_first + static_cast<int>(delta.size()));

  // The same conversation evaluated at once in a fresh session.
  std::vector<int32_t> all = first_expected;
  all.push_back(9906);
  all.insert(all.end(), delta.begin(), delta.end());
  std::unique_ptr<loam::Session> fresh;
  loam::SessionOptions options;
  options.n_ctx = 256;
  options.n_threads = 2;
  REQUIRE(loam::Session::create(f.model, options, fresh).is_ok());
  REQUIRE(fresh->eval(all).is_ok());
  const int n_vocab = f.model->config.n_vocab;
  double diff = 0, norm = 0;
  for (int i = 0; i < n_vocab; ++i) {
    const double d = f.session->logits()[i] - fresh->logits()[i];
    diff += d * d;
    norm += static_cast<double>(fresh->logits()[i]) * fresh->logits()[i];
  }
  CHECK(std::sqrt(diff / norm) < 1e-4);
}

TEST_CASE("an answer the template rewrites (trimmed) makes the next turn start over") {
  Fixture f;
  load(f, 256);
  ChatConversation chat(*f.session, *f.tokenizer, f.chat_template, true, "");
  turn(f, chat, "Hi", " Hello ", 16);  // Llama 3's template trims the content to "Hello"
  ChatConversation::TurnPlan next;
  REQUIRE(chat.plan_turn("What?", 16, next).is_ok());
  CHECK(next.from_start);
  CHECK_EQ(next.tokens.front(), 128000);  // BOS, once
  CHECK_EQ(next.dropped_turns, 0);
}

TEST_CASE("a full context drops the oldest turns and keeps the system prompt") {
  Fixture f;
  load(f, 64);
  ChatConversation chat(*f.session, *f.tokenizer, f.chat_template, true, "Be brief.");
  // Turn 1 takes 19 prompt tokens + 1 answer token; each later turn 11 + 1 (see the case above).
  turn(f, chat, "Hi", "Hello", 8);
  turn(f, chat, "Hi", "Hello", 8);
  turn(f, chat, "Hi", "Hello", 8);  // 44 positions used
  ChatConversation::TurnPlan plan;
  REQUIRE(chat.plan_turn("Hi", 16, plan).is_ok());  // 44 + 11 + 16 > 64
  CHECK(plan.from_start);
  CHECK(plan.dropped_turns >= 1);
  REQUIRE(!plan.messages.empty());
  CHECK_EQ(plan.messages.front().role, std::string("system"));
  CHECK_EQ(plan.messages.back().content, std::string("Hi"));
  CHECK(static_cast<int>(plan.tokens.size()) + 16 <= 64);
  // Re-rendered whole, the conversation is 19 + 3 * 12 = 55 tokens (+ 16 > 64); without the
  // oldest turn 43 (+ 16 fits): the fewest turns are dropped.
  CHECK_EQ(plan.dropped_turns, 1);
  CHECK_EQ(static_cast<int>(plan.tokens.size()), 43);
}

TEST_CASE("a message longer than the context is refused; a stopped evaluation changes nothing") {
  Fixture f;
  load(f, 32);
  ChatConversation chat(*f.session, *f.tokenizer, f.chat_template, true, "");
  std::string lengthy;
  for (int i = 0; i < 40; ++i) lengthy += " word";
  ChatConversation::TurnPlan plan;
  const loam::Status st = chat.plan_turn(lengthy, 8, plan);
  REQUIRE(!st.is_ok());
  CHECK(st.message().find("too long") != std::string::npos);
  CHECK(st.message().find("32") != std::string::npos);

  turn(f, chat, "Hi", "Hello", 4);
  const int before = f.session->position();
  REQUIRE(chat.plan_turn("What?", 4, plan).is_ok());
  bool completed = true;
  REQUIRE(chat.evaluate(plan, [] { return true; }, completed).is_ok());
  CHECK(!completed);
  CHECK_EQ(f.session->position(), before);
}
