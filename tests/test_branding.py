"""A campaign's own look, from its file alone: colour, logo, share image; never on the letter."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from pypdf import PdfReader

from letters.domain.campaign import CampaignError, contrast_with_white, load_campaign
from tests.helpers import submit
from tests.test_campaign import SHIPPED

PURPLE = "#5b2a86"  # 9.9:1 with white
LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    '<circle cx="5" cy="5" r="4" fill="#5b2a86"/><script>alert(1)</script></svg>'
)
PNG = bytes.fromhex(  # a 1x1 white PNG
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8ffffff7f0009fb03fd2a86e38a0000000049454e44ae426082"
)


def _campaigns(folder: Path, **branding: str) -> Path:
    """The shipped campaign and a second one, "Kids Online", with its own branding."""
    folder.mkdir()
    shutil.copy(SHIPPED, folder / SHIPPED.name)
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    raw.update(key="kids-online", title="Kids Online", organisation="Parents for Safer Tech")
    raw["branding"] = branding
    (folder / "kids-online.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    (folder / "kids.svg").write_text(LOGO, encoding="utf-8")
    (folder / "share.png").write_bytes(PNG)
    return folder


@pytest.fixture
def branded(make_app, tmp_path):
    folder = _campaigns(
        tmp_path / "campaigns",
        colour=PURPLE,
        logo="kids.svg",
        share_image="share.png",
        organisation_url="https://parents.example.org/",
    )
    return make_app(CAMPAIGNS_DIR=folder, DEFAULT_CAMPAIGN="kids-online")


def test_a_second_campaign_file_changes_every_page_with_no_code(branded):
    client = branded.test_client()
    for path in ("/", "/write", "/privacy", "/organiser/login", "/nowhere"):
        page = client.get(path).get_data(as_text=True)
        assert 'href="/campaigns/kids-online/theme.css"' in page, path
        assert '<img class="brand-logo" src="/campaigns/kids-online/logo"' in page, path
        assert '<link rel="icon" href="/campaigns/kids-online/logo">' in page, path
        brand = re.search(r'<a class="brand"[^>]*>(.*?)</a>', page, re.S)
        assert brand is not None and brand.group(1).endswith("Kids Online"), path
        assert '<a href="https://parents.example.org/">Parents for Safer Tech</a>' in page, path
    front = client.get("/").get_data(as_text=True)
    assert (
        '<meta property="og:image" content="http://localhost/campaigns/kids-online/share-image">'
        in front
    )

    theme = client.get("/campaigns/kids-online/theme.css")
    assert theme.mimetype == "text/css"
    assert f"--accent: {PURPLE};" in theme.get_data(as_text=True)
    with client.get("/campaigns/kids-online/logo") as logo:
        assert logo.status_code == 200 and logo.mimetype == "image/svg+xml"
        # Opened on its own, the SVG may run nothing.
        assert "sandbox" in logo.headers["Content-Security-Policy"]
        assert "script-src" not in logo.headers["Content-Security-Policy"]
    with client.get("/campaigns/kids-online/share-image") as share:
        assert share.status_code == 200 and share.data == PNG
    # The shipped campaign has no branding of its own: nothing to serve for it.
    assert client.get("/campaigns/tougher-on-tech/theme.css").status_code == 404
    assert client.get("/campaigns/tougher-on-tech/logo").status_code == 404
    assert client.get("/campaigns/nobody/logo").status_code == 404


def test_the_printed_letter_carries_no_branding(branded):
    client = branded.test_client()
    location = submit(client, postcode="2600", division="Canberra", member="Alicia Payne")
    pdf = client.get(location.headers["Location"] + ".pdf")
    assert pdf.status_code == 200
    reader = PdfReader(io.BytesIO(pdf.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Alicia Payne" in text
    assert "Parents for Safer Tech" not in text and "Kids Online" not in text
    assert all(not page.images for page in reader.pages)  # no logo drawn


def test_the_default_look_without_branding(app):
    page = app.test_client().get("/").get_data(as_text=True)
    assert "theme.css" not in page and "brand-logo" not in page
    assert '<link rel="icon" href="/static/favicon.svg">' in page
    with app.test_client().get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


@pytest.mark.parametrize(
    ("branding", "expected"),
    [
        ({"colour": "#7a7a7a"}, "contrast of 4.29:1 with white"),
        ({"colour": "#ffcc00"}, "choose a darker colour"),
        ({"colour": "purple"}, "branding.colour"),
        ({"logo": "missing.svg"}, "'missing.svg' is not in"),
        ({"logo": "../../etc/passwd.svg"}, "must be a file name in the campaigns folder"),
        ({"logo": "logos/kids.svg"}, "must be a file name in the campaigns folder"),
        ({"logo": "logos\\kids.svg"}, "must be a file name in the campaigns folder"),
        ({"logo": ".kids.svg"}, "must be a file name in the campaigns folder"),
        ({"logo": "kids.gif"}, "ending .svg, .png"),
        ({"share_image": "kids.svg"}, "branding.share_image"),
        ({"organisation_url": "javascript:alert(1)"}, "branding.organisation_url"),
        ({"font": "Comic Sans"}, "Extra inputs are not permitted"),
    ],
)
def test_branding_that_would_not_work_is_refused_with_the_reason(tmp_path, branding, expected):
    folder = _campaigns(tmp_path / "campaigns", **branding)
    with pytest.raises(CampaignError) as caught:
        load_campaign(folder / "kids-online.yaml")
    assert expected in str(caught.value)


def test_contrast_is_wcags():
    assert contrast_with_white("#000000") == pytest.approx(21.0)
    assert contrast_with_white("#ffffff") == pytest.approx(1.0)
    assert contrast_with_white("#767676") == pytest.approx(4.54, abs=0.01)  # AA's darkest grey
    assert contrast_with_white("#777777") < 4.5
    # Channels of 10 and below are on the formula's straight part (c / 12.92).
    assert contrast_with_white("#0a0a0a") == pytest.approx(19.798, abs=0.005)


def test_supporter_emails_carry_the_campaign_and_the_letter_to_the_mp_does_not(branded):
    from letters.mail.content import confirmation_email, letter_digest, letter_email
    from tests import factories

    with branded.app_context():
        message = factories.message(
            delivery="email", campaign_key="kids-online", recipient_email="mp@aph.gov.au"
        )
        asked = confirmation_email(message, letter_digest(message))
        assert (
            "Kids Online, a campaign of Parents for Safer Tech: https://parents.example.org/"
            in asked.text
        )
        assert f'<strong style="color:{PURPLE}">Kids Online</strong>' in asked.html
        assert '<a href="https://parents.example.org/">Parents for Safer Tech</a>' in asked.html
        to_member = letter_email(message)
        assert "Parents for Safer Tech" not in to_member.text + to_member.html
        assert PURPLE not in to_member.html
