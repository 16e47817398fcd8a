"""Texts the world writes: subjects, replies, LinkedIn notes and messages (small fixed templates)."""

from __future__ import annotations

import numpy as np

from growthlab.sandbox.catalog import ANGLES

NEWSLETTER_SUBJECTS = {
    "cost_savings": "How clean-tech leaders cut energy costs by 20%",
    "emissions_reduction": "Scope 1-3: a practical path to lower emissions",
    "compliance": "CSRD and SEC climate rules: what changes this year",
    "case_study": "Case study: a 40 MW portfolio, one platform",
}
SALES_SUBJECTS = {
    "cost_savings": "Lower operating costs at {company}",
    "emissions_reduction": "{company}'s emissions targets",
    "compliance": "Climate disclosure at {company}",
    "case_study": "How a peer of {company} did it",
}
REPLY_TEXTS = (
    "Thanks for reaching out. Could we find 30 minutes next week?",
    "Interesting timing, we are looking at this right now. What does pricing look like?",
    "Happy to talk. Please send a few slots.",
    "Not the right moment for us, but keep me posted.",
    "Can you share a case study from our segment first?",
)
LINKEDIN_NOTES = (
    "Hi {first}, I work with clean-tech teams on energy data. Would be glad to connect.",
    "Hi {first}, enjoyed your post on decarbonisation. Let's connect!",
    "Hi {first}, we help companies like {company} report and reduce emissions. Open to connecting?",
)
LINKEDIN_MESSAGES = {
    "cost_savings": "Thanks for connecting, {first}! We help teams like yours cut energy costs. Worth a chat?",
    "emissions_reduction": "Thanks for connecting, {first}! Curious how {company} tracks Scope 3 today?",
    "compliance": "Thanks for connecting, {first}! Is CSRD reporting on your plate this year?",
    "case_study": "Thanks for connecting, {first}! Happy to share how a peer in your segment did it.",
}
LINKEDIN_REPLIES = (
    "Thanks! Yes, let's talk, what does your calendar look like?",
    "Appreciate it. Send me something to read first?",
    "Hi! We're evaluating options now, happy to connect.",
    "Thanks for the note. Maybe next quarter.",
)


def angle_name(code: int) -> str:
    return ANGLES[code] if 0 <= code < len(ANGLES) else "other"


def pick(options: tuple[str, ...], keys: np.ndarray) -> np.ndarray:
    return np.array(options, dtype=object)[np.asarray(keys, dtype=np.int64) % len(options)]
