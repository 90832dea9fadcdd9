"""Made-up letter writers for the benchmarks: names, streets and sentences of their own words."""

FIRST_NAMES = (
    "Jane",
    "Mohammed",
    "Mei",
    "Aroha",
    "Siobhan",
    "Tuan",
    "Priya",
    "Jack",
    "Olivia",
    "Bartholomew",
    "Zoë",
    "Kwame",
    "Anneliese",
    "Isabella-Rose",
    "Liam",
    "Ngaio",
    "Dimitri",
    "Fatima",
    "Hamish",
    "Yuki",
)

LAST_NAMES = (
    "Citizen",
    "Nguyen",
    "O'Brien",
    "Papadopoulos",
    "Smith",
    "Wiradjuri-Jones",
    "Kowalski",
    "Fitzgerald-Montgomery",
    "Tran",
    "Al-Hassan",
    "Lee",
    "Chen",
    "Murphy",
    "Singh",
    "Williams",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Anderson",
)

STREETS = ("Example Street", "Wattle Avenue", "Banksia Crescent", "Old Coach Road", "Esplanade")

NOTE_SENTENCES = (
    "I have two children at the local primary school.",
    "I worry about who can reach them online.",
    "Our teachers tell me they see the harm every week.",
    "Please make the tech companies take responsibility for what happens on their platforms.",
    "I would be grateful for a reply setting out what you will do.",
    "This matters to me and to many people in our community.",
)
