"""The chat requests seed_demo sends, and what its fake model answers each (seed_demo.py)."""

from dataclasses import dataclass, field


@dataclass
class Demo:
    """One demo request: what the app sends, and what the fake model answers."""

    prompt: str
    images: list[str]  # file names; "url:" prefix = sent as a URL the gateway fetches
    reply: str | dict  # a dict is an error: {"status": 429, "message": ...}
    model: str = "gpt-4o-mini"
    stream: bool = False
    system: str = ""
    trace: str = ""
    metadata: dict = field(default_factory=dict)
    detail: str | None = None
    tool: str = ""  # answer with a call to this tool instead of text


DEMOS = [
    Demo(
        "What is in this image?",
        ["chelsea.png"],
        "A close-up of a tabby cat's face: amber-green eyes, pink nose and long white "
        "whiskers. Its fur is brown and black with a striped pattern.",
        metadata={"app": "photo-tagger", "user": "u_1842"},
    ),
    Demo(
        "Write short alt text for each image, one per line.",
        ["chelsea.png", "coffee.jpg"],
        "1. Close-up of a tabby cat's face with amber-green eyes.\n"
        "2. An espresso in a red cup and saucer on a wooden table.",
        stream=True,
        metadata={"app": "cms", "feature": "alt-text"},
    ),
    Demo(
        "Describe this launch photo for a news caption.",
        ["url:rocket.jpg"],
        "A rocket lifts off from its launch pad at dusk, trailing a bright plume of fire "
        "and a column of white smoke.",
        model="gpt-4o",
        detail="high",
        metadata={"app": "newsroom"},
    ),
    Demo(
        "Transcribe the handwriting. Use LaTeX for the maths.",
        ["text.png"],
        "The page shows a Laplace transform pair:\n\n"
        "$$\\mathcal{L}\\{f(t)\\} = F(s) = \\int_0^\\infty f(t)\\, e^{-st}\\, dt$$\n\n"
        "and below it $f(t) = \\frac{1}{s}$ for $t \\geq 0$ (partly cut off).",
        model="gpt-4.1-mini",
        detail="high",
        metadata={"app": "notes-ocr"},
    ),
    Demo(
        "What happens in this animation?",
        ["no_time_for_that_tiny.gif"],
        "It's a very small, low-resolution animated GIF (14×25 px). I can only see the first "
        "frame: a tiny figure that seems to shake its head.",
        metadata={"app": "photo-tagger"},
    ),
    Demo(
        "Is this photo upright? Answer yes or no, then why.",
        ["astronaut_exif6.jpg"],
        "Yes. Once the EXIF orientation is applied the astronaut's head is at the top and the "
        "flag patch reads normally.",
        metadata={"app": "photo-tagger", "user": "u_77"},
    ),
    Demo(
        "Find products that look like the object in this photo.",
        ["coffee.jpg"],
        "",
        system="You are the shopping assistant of an online store. Use the tools.",
        tool="search_catalog",
        model="gpt-4o",
        metadata={"app": "shop", "env": "staging"},
    ),
    Demo(
        "Classify this image: pet, food, vehicle or document?",
        ["chelsea.png"],
        "pet",
        trace="order-7f3a21",
        metadata={"app": "moderation", "step": "classify"},
    ),
    Demo(
        "Does this image break the content policy? Reply ALLOW or BLOCK.",
        ["chelsea.png"],
        "ALLOW",
        trace="order-7f3a21",
        metadata={"app": "moderation", "step": "policy"},
    ),
    Demo(
        "Summarise the product photo in 12 words.",
        ["coffee.jpg"],
        {
            "status": 429,
            "message": "Rate limit reached for gpt-4o in organization org-demo on "
            "requests per min (RPM): Limit 500, Used 500, Requested 1.",
        },
        model="gpt-4o",
        trace="order-7f3a21",
        metadata={"app": "moderation", "step": "summary"},
    ),
    Demo(
        "What does this chart show?",
        ["url:missing-chart.png"],
        {"status": 400, "message": "Error while downloading the image URL: 404 Not Found."},
        metadata={"app": "reports"},
    ),
    Demo(
        "List the colours in this picture, most dominant first.",
        ["coffee.jpg"],
        "Deep red (the cup and saucer), dark brown (the espresso and the wooden table), "
        "and a touch of silver from the spoon.",
        stream=True,
        model="gpt-4.1-mini",
        metadata={"app": "cms"},
    ),
]


def reply_for(body: dict) -> Demo | None:
    text = ""
    for message in body.get("messages", []):
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        text = next((p["text"] for p in parts if p.get("type") == "text"), text)
    return next((d for d in DEMOS if d.prompt == text), None)
