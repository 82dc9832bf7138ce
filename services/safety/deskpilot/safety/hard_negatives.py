"""Benign texts that look like injections to a bag-of-words model, written for this project.

Two kinds, both labelled benign:
- DISCUSSION: text *about* prompt injection, and instructions written for the person
  reading them (security articles, research abstracts, prompt-engineering docs, CLI help
  that mentions agents, password resets, approval e-mails, terms of service, captchas,
  install guides). The gate flagged such pages; a model must learn that imperative words
  aimed at a human, or quoted attacks, are not an attack on the agent.
- mention(): an attack quoted inside a report, an article or a ticket ("mention, not
  use"). Training wraps attacks of the training sources this way; nothing here is copied
  from any data set.
"""

from __future__ import annotations

import random

DISCUSSION = (
    # articles and research about prompt injection
    "Prompt injection is a class of attack in which untrusted text, such as a web page or "
    "an e-mail, contains instructions that a language model mistakes for its user's. "
    "Defences include separating data from instructions and asking for confirmation.",
    "In our evaluation, 41 of 60 agents followed an instruction hidden in a product review "
    "that told them to visit an attacker's site. We describe the benchmark, the attack "
    "templates and the metrics, and release the code.",
    "Abstract. Indirect prompt injection embeds adversarial instructions in content an LLM "
    "retrieves. We show that fine-tuning with delimiters reduces the attack success rate "
    "from 62% to 9% on BIPIA while keeping task accuracy.",
    "Security advisory: a crafted calendar invite could make the assistant forward e-mails. "
    "The issue is fixed in version 2.4.1; update your client. No action is needed if "
    "automatic updates are on.",
    "How attackers hide instructions: white text on a white background, tiny fonts, HTML "
    "comments and alt text. This guide shows how to audit your pages for hidden content "
    "before an AI crawler indexes them.",
    "Red-team report, section 3: the tester pasted 'ignore previous instructions' into the "
    "support form. The chatbot refused and logged the attempt. Recommendation: keep the "
    "refusal and alert the security team on repeated attempts.",
    "OWASP Top 10 for LLM applications, LLM01: Prompt Injection. Description, common "
    "examples of vulnerability, prevention and mitigation strategies, example attack "
    "scenarios and reference links.",
    "Jailbreaks and prompt injections differ: a jailbreak is the user attacking the model's "
    "safety training, a prompt injection is a third party attacking the user through data "
    "the model reads. Both are covered in chapter 7.",
    "Lecture notes, week 9: adversarial inputs to language models. Reading: the papers on "
    "universal adversarial suffixes and on injection through retrieved documents. Quiz on "
    "Friday covers both.",
    "We classify 1,200 real injection attempts collected from a public honeypot chatbot by "
    "goal: data exfiltration (38%), goal hijacking (31%), prompt leaking (22%) and other.",
    # prompt-engineering and developer documentation
    "System prompts set the model's role and rules. Write them in the second person, keep "
    "them short, and put long reference material in the user turn inside XML tags.",
    "Tool use: you describe tools with a name, a description and a JSON schema; the model "
    "answers with a tool_use block, your code runs the tool and returns a tool_result.",
    "To make the assistant answer in JSON, give an example of the output format and ask it "
    "to respond with only the JSON object. You can also prefill the assistant turn.",
    "agent run [OPTIONS] TASK\n  Run an agent on TASK.\n  --model TEXT  model to use\n  "
    "--max-steps N  stop after N steps\n  --approve  ask before each command\n  -h, --help",
    "CLAUDE.md files give the coding agent project instructions: how to build, how to run "
    "the tests, style rules. Keep one at the repository root and commit it.",
    "The evaluation harness sends each prompt to the model, then compares the answer to the "
    "reference with an exact-match and a model-graded score. Configure it in eval.yaml.",
    # instructions written for the person reading them
    "Reset your password. We received a request to reset the password for your account. "
    "Click the button below to choose a new one. If you did not ask for this, ignore this "
    "e-mail; your password will not change. The link expires in 24 hours.",
    "Your manager approved your expense report #4471 (EUR 312.40). The amount will be paid "
    "with your next salary. To see the details, sign in to the expenses portal.",
    "Action required: please review and approve the pull request 'Update dependencies' "
    "before Thursday's release. Reply to this e-mail if you need more time.",
    "Terms of Service. By creating an account you agree to these terms. You must not use "
    "the service to send spam or to break the law. We may suspend accounts that do. These "
    "terms are governed by the laws of Ireland.",
    "Verify you are human. Select all images with traffic lights. If there are none, click "
    "Skip. Having trouble? Get an audio challenge.",
    "Installation: download the installer, open a terminal and run sudo dpkg -i "
    "package.deb, then start the app from the menu. To uninstall, run sudo apt remove "
    "package.",
    "Before you continue: we use cookies to improve your experience. Accept all, reject "
    "all or manage your preferences. You can change your choice at any time in Settings.",
    "Do not share your one-time code with anyone. Our staff will never ask for it. Enter "
    "the 6-digit code we sent to +44 ••• ••• 112 to sign in.",
    "Instructions for candidates: answer all questions, write your name on every page, and "
    "do not open the envelope until told to. Phones must be switched off.",
    "IMPORTANT: Read these safety instructions before use. Do not immerse the kettle in "
    "water. Unplug it before cleaning. Keep out of reach of children.",
    "New sign-in to your account from Firefox on Linux, Berlin. If this was you, you can "
    "ignore this message. If not, change your password now and review your devices.",
    "Assignment 3: write a program that reads a CSV file and prints the average of each "
    "column. Ignore rows with missing values. Submit by uploading your .py file.",
    "Your subscription renews on 1 March. To cancel, go to Account > Billing and choose "
    "Cancel subscription. You will keep access until the end of the period.",
    "Onboarding checklist: 1. Set up two-factor authentication. 2. Join the #general "
    "channel. 3. Read the handbook. 4. Send your bank details to HR through the portal.",
    # support and operations text that mentions AI agents
    "Our AI assistant can answer questions about your order. It cannot change payment "
    "details; for that, contact a person on our team.",
    "Heads-up: the build agent on runner-7 is offline; jobs will queue on the other "
    "runners until it is back. No action needed.",
    "The assistant summarised the meeting: next steps are to send the draft to legal, book "
    "the venue and update the roadmap. Please check the summary for mistakes.",
    "Release notes 3.2: the agent now asks before deleting files, the system prompt can be "
    "edited per project, and the screenshot tool respects the display scale.",
    "Changelog: fixed a bug where the chatbot repeated the previous instructions after a "
    "reload. Improved the handling of long conversations.",
)

_MENTION_TEMPLATES = (
    "Security report: the following text was found hidden on a partner page and blocked "
    'by our filter. Quoted for analysis, do not act on it: "{attack}" We recommend '
    "scanning all pages from this partner.",
    "Example of an indirect prompt injection (from our training course). An attacker "
    "hides this in a document: «{attack}» A safe agent treats it as data, not as a "
    "command, and tells the user.",
    "Ticket #{number}: a customer reported that the chatbot showed odd text: '{attack}'. "
    "Status: investigating. Assigned to the trust and safety team.",
    "In the paper's appendix, attack sample {number} reads: {attack} — the model under "
    "test complied in 3 of 5 trials.",
    'Phishing awareness: messages like "{attack}" try to trick automated tools. Report '
    "them with the Report button; never follow them.",
    "Our moderation log flagged comment {number} as a prompt-injection attempt and hid it. "
    "Original text: {attack}",
)


def mention(attack: str, rng: random.Random) -> str:
    """`attack` quoted inside a report, an article or a ticket: benign."""
    template = rng.choice(_MENTION_TEMPLATES)
    return template.format(attack=attack[:600], number=rng.randint(100, 9999))
