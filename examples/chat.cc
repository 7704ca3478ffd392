// The chat example in C++: the context owned by an object, errors as
// exceptions, the answer collected into a std::string.
//
//   c++ chat.cc $(pkg-config --cflags --libs phi4) -o chat-cc
//   ./chat-cc model.gguf "Why is the sky blue?"
#include <phi4.h>

#include <iostream>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

class Phi4Model {
public:
    explicit Phi4Model(const std::string &path) : ctx_(new_context(), phi_ctx_free) {
        // Greedy decoding (the same answer every time), at most 256 tokens.
        check(phi_set_float(ctx_.get(), PHI_OPT_TEMPERATURE, 0.0));
        check(phi_set_int(ctx_.get(), PHI_OPT_MAX_TOKENS, 256));
        check(phi_load(ctx_.get(), path.c_str()));
    }

    // The answer to one user message; a reasoning model's thinking is left out.
    std::string ask(const std::string &question) {
        std::string answer;
        phi_chat_message chat[] = {{"user", question.c_str()}};
        check(phi_generate_chat(ctx_.get(), chat, 1, nullptr, 0, keep_answer, &answer));
        return answer;
    }

private:
    static phi_ctx *new_context() {
        phi_ctx *ctx;
        if (phi_ctx_new(&ctx) != PHI_OK)
            throw std::bad_alloc();
        return ctx;
    }
    static int keep_answer(void *user, int32_t channel, const char *text, size_t len) {
        if (channel == PHI_CHANNEL_ANSWER)
            static_cast<std::string *>(user)->append(text, len);
        return 0;
    }
    void check(int32_t rc) {
        if (rc != PHI_OK)
            throw std::runtime_error(std::string(phi_strerror(rc)) + ": " + phi_errmsg(ctx_.get()));
    }

    // Freed however the object goes, a constructor that throws included.
    std::unique_ptr<phi_ctx, void (*)(phi_ctx *)> ctx_;
};

int main(int argc, char **argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " MODEL.gguf PROMPT\n";
        return 1;
    }
    try {
        Phi4Model model(argv[1]);
        std::cout << model.ask(argv[2]) << "\n";
    } catch (const std::exception &e) {
        std::cerr << e.what() << "\n";
        return 1;
    }
    return 0;
}
