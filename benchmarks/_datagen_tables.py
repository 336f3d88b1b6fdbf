"""The data generator's world model: small hand-written tables of names, places and formats.

These tables are deliberately the generator's own (not the normalizers'), so
that an evaluation on generated data is not circular.  Facts come from public
sources (GB 3304 ethnicity codes, GB/T 2261 sex codes, 2020 census population by
province, HK/Macau/Taiwan spelling conventions, mobile number segments); the
surname frequencies come from wainshine/Chinese-Names-Corpus (Apache-2.0, see
``data/surnames.tsv`` and normalizers/data/LICENSES.md).  Every table is a tuple
or a dict built from literals, so iteration order (and so the output for a
seed) never depends on hashing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data"

# ----------------------------------------------------------------- surnames


@dataclass(frozen=True, slots=True)
class Surnames:
    names: tuple[str, ...]
    weights: np.ndarray  # probabilities, sum 1
    pinyin: tuple[str, ...]  # toneless, lower case, ü kept


@cache
def surnames() -> Surnames:
    """Han surnames with corpus frequencies (a Zipf-like head: 王 李 张 刘 陈 ...)."""
    with (DATA_DIR / "surnames.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    weights = np.array([float(r["tf"]) for r in rows])
    return Surnames(
        names=tuple(r["surname"] for r in rows),
        weights=weights / weights.sum(),
        pinyin=tuple(r["pinyin"] for r in rows),
    )


# ------------------------------------------------------- Han given names
# Per birth era and sex: single-character given names, first and second
# characters of two-character names (composed freely) and whole two-character
# names that were fashionable in the era.  Lists are in rough order of
# popularity; the generator puts a Zipf weight on the position.

ERA_BOUNDS: tuple[int, ...] = (1960, 1980, 2000)  # eras: <1960, 1960-79, 1980-99, >=2000
SINGLE_SHARE: tuple[float, ...] = (0.25, 0.30, 0.25, 0.08)
WHOLE_SHARE = 0.25  # of two-character given names


@dataclass(frozen=True, slots=True)
class GivenTable:
    single: str
    first: str
    second: str
    whole: tuple[str, ...]


GIVEN: dict[tuple[int, str], GivenTable] = {
    (0, "M"): GivenTable(
        "明华军林平强国忠福才生荣祥德富山贵刚海文俊成勇利",
        "建国志德振永长玉福树文金世宝春庆学兴家成",
        "国华民明林军生山平成荣福祥德才忠贵海和义",
        ("建国", "国庆", "建华", "国强", "志刚", "卫国", "建军", "援朝", "振华", "建平", "国华", "德明", "永刚", "长林", "福生"),
    ),
    (0, "F"): GivenTable(
        "英兰珍芳秀华梅凤琴霞玉桂敏萍云",
        "秀桂玉淑凤春素金丽美翠月爱秋红",
        "英兰珍芳华梅琴霞荣莲芝云花娥香",
        ("秀英", "桂英", "秀兰", "玉兰", "桂兰", "淑珍", "凤英", "玉梅", "秀珍", "淑英", "桂芳", "玉珍", "秀云", "秀荣", "玉英"),
    ),
    (1, "M"): GivenTable(
        "伟军勇强磊涛明斌华平刚辉波健峰杰东亮兵鹏林超龙飞",
        "建志晓国海永小卫红文明立宏新俊振春德东世",
        "军华明平伟林峰强东波勇斌刚辉杰涛龙生海宇",
        ("建军", "建华", "志强", "海涛", "晓东", "建平", "志勇", "国庆", "红兵", "卫东"),
    ),
    (1, "F"): GivenTable(
        "芳丽娟敏静艳霞红燕萍玲梅英华琴莉洁晶颖慧",
        "丽晓小海春秀红玉美艳金爱雪建凤彩文云淑桂",
        "红华丽梅燕霞英萍玲娟芳琴艳云敏平兰静莉娜",
        ("丽娟", "海燕", "秀梅", "红梅", "晓燕", "春梅", "丽华", "艳红", "晓红", "丽萍"),
    ),
    (2, "M"): GivenTable(
        "伟磊超鹏杰涛浩强斌勇军亮鑫帅宇阳明龙飞凯波健博峰俊辉刚坤毅翔",
        "子志俊浩家晓文振宇明嘉建天一永海佳思博鹏",
        "伟杰鹏宇涛超强磊浩辉斌龙明飞峰阳豪轩华军",
        ("俊杰", "浩然", "志强", "家豪", "子豪", "文杰", "宇航", "晓东", "建华", "明辉"),
    ),
    (2, "F"): GivenTable(
        "娜静敏丽婷丹倩雪洁颖琳晶艳燕芳玲欣佳慧萍娟蕾璐瑶薇",
        "晓佳雅思欣雪丽婷梦文诗嘉美晶海小秀玉雨慧",
        "婷丽娟艳雪倩琳燕芳敏静洁颖慧玲丹霞萍晶娜",
        ("晓婷", "佳慧", "雅婷", "思敏", "欣怡", "丽娟", "晓丽", "雪梅", "婷婷", "丹丹"),
    ),
    (3, "M"): GivenTable(
        "浩宇轩博杰豪睿涛鑫阳晨凯航昊哲铭瑞泽钧诺",
        "子浩宇梓一俊思天博嘉皓佳雨家明文奕沐睿泽",
        "轩宇涵然辰泽豪杰航博睿晨阳哲铭熙昊诚凯鑫",
        ("子轩", "浩然", "宇轩", "梓轩", "浩宇", "俊熙", "宇航", "一鸣", "子豪", "沐宸"),
    ),
    (3, "F"): GivenTable(
        "涵萱琪欣怡悦彤瑶婷雪璐晴菲颖妍琳诺桐馨然",
        "梓子欣诗雨可思佳一语紫若雅依梦心嘉艺芷安",
        "涵萱怡彤琪轩桐悦妍琳瑶馨然欣诺颖婷菲晴琦",
        ("梓涵", "欣怡", "一诺", "梓萱", "雨桐", "子涵", "诗涵", "可馨", "若曦", "语桐"),
    ),
}

# The most frequent full names in China (published household-registration
# statistics), boosted so that exact-name collisions are common, as they are.
COMMON_FULL_NAMES: tuple[tuple[str, str], ...] = (
    ("张伟", "M"), ("王伟", "M"), ("王芳", "F"), ("李伟", "M"), ("李娜", "F"), ("张敏", "F"),
    ("李静", "F"), ("王静", "F"), ("刘伟", "M"), ("王秀英", "F"), ("张丽", "F"), ("李秀英", "F"),
    ("王丽", "F"), ("张静", "F"), ("张秀英", "F"), ("李强", "M"), ("王敏", "F"), ("李敏", "F"),
    ("王磊", "M"), ("刘洋", "M"), ("王艳", "F"), ("王勇", "M"), ("李军", "M"), ("张勇", "M"),
    ("李杰", "M"), ("张杰", "M"), ("张磊", "M"), ("王强", "M"), ("李娟", "F"), ("王军", "M"),
    ("张艳", "F"), ("张涛", "M"), ("王涛", "M"), ("李艳", "F"), ("王超", "M"), ("李明", "M"),
    ("李勇", "M"), ("王娟", "F"), ("刘杰", "M"), ("刘敏", "F"), ("李霞", "F"), ("李丽", "F"),
    ("张军", "M"), ("王杰", "M"), ("张强", "M"), ("王秀兰", "F"), ("王刚", "M"), ("王平", "M"),
    ("刘芳", "F"), ("张燕", "F"),
)
COMMON_FULL_NAME_SHARE = 0.003  # of Han-named persons born 1950-1999

# Homophones and look-alike characters that clerks substitute in given names.
VARIANT_GROUPS: tuple[str, ...] = (
    "伟玮炜纬", "丽莉俐", "明鸣铭", "静婧靖", "晓小筱", "红宏虹鸿", "芳方", "娟鹃涓", "燕艳雁",
    "军君均", "勇永涌", "涛滔韬", "杰洁捷婕", "斌彬滨", "鹏朋", "华桦骅", "平萍苹", "刚钢纲",
    "辉晖", "波博", "健建键", "宇羽雨语", "浩皓昊灏", "林琳霖", "峰锋丰", "俊骏峻", "飞菲",
    "凯恺", "文雯", "东冬", "成诚承", "志智", "晨辰宸", "阳洋扬", "鑫欣馨昕", "娜那", "霞侠",
    "英瑛莹", "玲铃灵", "梅玫", "婷亭", "倩茜", "慧惠蕙", "晶菁", "琴芹", "兰岚", "佳嘉家",
    "悦玥", "怡仪宜", "涵晗", "萱轩璇", "彤桐", "琪琦淇", "瑶遥", "子梓紫", "睿瑞", "泽择",
    "晴睛", "秀绣", "敏闽",
)

# Readings pypinyin gets wrong for these characters in given names.
GIVEN_READINGS: dict[str, str] = {"朝": "chao", "长": "chang", "乐": "le", "重": "chong", "茜": "qian"}

# ------------------------------------------------------------- ethnicities
# GB 3304-1991 codes of the groups modelled.
ETHNICITY_CODES: dict[str, str] = {
    "汉族": "01", "蒙古族": "02", "回族": "03", "藏族": "04", "维吾尔族": "05", "苗族": "06",
    "彝族": "07", "壮族": "08", "布依族": "09", "朝鲜族": "10", "满族": "11", "侗族": "12",
    "瑶族": "13", "白族": "14", "土家族": "15", "哈尼族": "16", "哈萨克族": "17", "傣族": "18",
    "黎族": "19",
}
ETHNICITIES: tuple[str, ...] = tuple(ETHNICITY_CODES)

# Minority shares by province (2020 census, rounded); the rest is Han.
PROVINCE_ETHNICITY: dict[str, dict[str, float]] = {
    "11": {"满族": 0.02, "回族": 0.015}, "12": {"回族": 0.015, "满族": 0.01},
    "13": {"满族": 0.03, "回族": 0.008}, "15": {"蒙古族": 0.17, "满族": 0.02, "回族": 0.008},
    "21": {"满族": 0.12, "蒙古族": 0.015, "回族": 0.006, "朝鲜族": 0.005},
    "22": {"朝鲜族": 0.04, "满族": 0.03}, "23": {"满族": 0.02, "朝鲜族": 0.008},
    "41": {"回族": 0.01}, "42": {"土家族": 0.035}, "43": {"土家族": 0.04, "苗族": 0.03, "侗族": 0.012, "瑶族": 0.01},
    "44": {"壮族": 0.01}, "45": {"壮族": 0.31, "瑶族": 0.03, "苗族": 0.01, "侗族": 0.007},
    "46": {"黎族": 0.15}, "50": {"土家族": 0.05, "苗族": 0.02},
    "51": {"彝族": 0.03, "藏族": 0.02}, "52": {"苗族": 0.11, "布依族": 0.07, "侗族": 0.04, "土家族": 0.04, "彝族": 0.02},
    "53": {"彝族": 0.11, "白族": 0.035, "哈尼族": 0.035, "壮族": 0.03, "傣族": 0.027, "苗族": 0.027},
    "54": {"藏族": 0.86}, "62": {"回族": 0.05, "藏族": 0.02}, "63": {"藏族": 0.25, "回族": 0.15},
    "64": {"回族": 0.36}, "65": {"维吾尔族": 0.45, "哈萨克族": 0.06, "回族": 0.04},
}
DEFAULT_ETHNICITY: dict[str, float] = {"回族": 0.005, "满族": 0.003}

# Surnames common in a group, used for half of its Han-style names.
ETHNIC_SURNAMES: dict[str, str] = {
    "回族": "马杨白丁马海", "壮族": "韦覃黄陆蒙莫", "朝鲜族": "金朴李崔郑", "满族": "关佟那赵金",
    "土家族": "向田彭覃", "苗族": "龙杨吴石麻", "黎族": "符王吉", "白族": "杨段赵李",
    "侗族": "吴杨石", "瑶族": "盘赵邓", "布依族": "韦王罗", "哈尼族": "李白", "彝族": "阿吉沙马",
    "傣族": "刀岩玉", "蒙古族": "包白鲍",
}

# Uyghur and Kazakh names: "given·father's given", both transliterated into
# characters; (characters, pinyin as in passports).
DOT_NAMES_MALE: tuple[tuple[str, str], ...] = (
    ("买买提", "MAIMAITI"), ("艾力", "AILI"), ("阿不都热合曼", "ABUDUREHEMAN"), ("吐尔逊", "TUERXUN"),
    ("艾尔肯", "AIERKEN"), ("阿力木", "ALIMU"), ("努尔买买提", "NUERMAIMAITI"), ("热合曼", "REHEMAN"),
    ("司马义", "SIMAYI"), ("吾买尔", "WUMAIER"), ("阿卜杜拉", "ABUDULA"), ("伊力哈木", "YILIHAMU"),
    ("肉孜", "ROUZI"), ("亚森", "YASEN"), ("艾山", "AISHAN"), ("玉素甫", "YUSUFU"), ("麦麦提", "MAIMAITI"),
    ("阿迪力", "ADILI"), ("依明", "YIMING"), ("努尔兰", "NUERLAN"), ("叶尔兰", "YEERLAN"), ("哈力木", "HALIMU"),
)
DOT_NAMES_FEMALE: tuple[tuple[str, str], ...] = (
    ("古丽", "GULI"), ("阿依古丽", "AYIGULI"), ("古丽娜尔", "GULINAER"), ("热依拉", "REYILA"),
    ("米热古丽", "MIREGULI"), ("帕提古丽", "PATIGULI"), ("迪丽努尔", "DILINUER"), ("再努尔", "ZAINUER"),
    ("阿依努尔", "AYINUER"), ("热娜", "RENA"), ("努尔古丽", "NUERGULI"), ("祖丽皮亚", "ZULIPIYA"),
    ("海热古丽", "HAIREGULI"), ("加娜尔", "JIANAER"), ("古丽米拉", "GULIMILA"),
)
# Alternative transliterations of the same Uyghur name element.
DOT_NAME_VARIANTS: dict[str, str] = {
    "买买提": "麦麦提", "麦麦提": "买买提", "阿不都": "阿卜杜", "阿卜杜": "阿布都", "吐尔逊": "图尔荪",
    "热合曼": "热依曼", "古丽": "古力", "艾力": "阿里", "玉素甫": "玉苏甫", "司马义": "斯马伊",
}
DOT_SEPARATORS: tuple[str, ...] = ("·", "•", "．", ".", "・", "", " ", "-")

TIBETAN_FIRST: tuple[tuple[str, str], ...] = (
    ("扎西", "ZHAXI"), ("次仁", "CIREN"), ("格桑", "GESANG"), ("达瓦", "DAWA"), ("尼玛", "NIMA"),
    ("索朗", "SUOLANG"), ("白玛", "BAIMA"), ("普布", "PUBU"), ("洛桑", "LUOSANG"), ("边巴", "BIANBA"),
    ("巴桑", "BASANG"), ("米玛", "MIMA"), ("拉巴", "LABA"), ("旦增", "DANZENG"),
)
TIBETAN_MALE: tuple[tuple[str, str], ...] = (
    ("顿珠", "DUNZHU"), ("多吉", "DUOJI"), ("平措", "PINGCUO"), ("旺堆", "WANGDUI"), ("次旦", "CIDAN"),
    ("罗布", "LUOBU"), ("加措", "JIACUO"), ("群培", "QUNPEI"),
)
TIBETAN_FEMALE: tuple[tuple[str, str], ...] = (
    ("卓玛", "ZHUOMA"), ("央金", "YANGJIN"), ("拉姆", "LAMU"), ("德吉", "DEJI"), ("曲珍", "QUZHEN"),
    ("措姆", "CUOMU"), ("央宗", "YANGZONG"), ("卓嘎", "ZHUOGA"),
)
MONGOLIAN_MALE: tuple[tuple[str, str], ...] = (
    ("巴特尔", "BATEER"), ("额尔敦", "EERDUN"), ("苏和", "SUHE"), ("那顺", "NASHUN"), ("宝音", "BAOYIN"),
    ("朝鲁", "CHAOLU"), ("孟和", "MENGHE"), ("巴雅尔", "BAYAER"), ("布和", "BUHE"), ("毕力格", "BILIGE"),
    ("特木尔", "TEMUER"), ("阿拉坦仓", "ALATANCANG"), ("格日勒图", "GERILETU"),
)
MONGOLIAN_FEMALE: tuple[tuple[str, str], ...] = (
    ("其其格", "QIQIGE"), ("乌云", "WUYUN"), ("高娃", "GAOWA"), ("图雅", "TUYA"), ("萨仁", "SAREN"),
    ("乌兰", "WULAN"), ("娜仁", "NAREN"), ("托娅", "TUOYA"), ("斯琴高娃", "SIQINGAOWA"), ("琪琪格", "QIQIGE"),
)

# ----------------------------------------------------- Hong Kong, Macau, Taiwan
# (traditional, simplified, Hong Kong spelling, Macau spelling, Wade-Giles as used in Taiwan)
HMT_SURNAMES: tuple[tuple[str, str, str, str, str], ...] = (
    ("陳", "陈", "CHAN", "CHAN", "CHEN"), ("黃", "黄", "WONG", "WONG", "HUANG"),
    ("張", "张", "CHEUNG", "CHEONG", "CHANG"), ("李", "李", "LEE", "LEI", "LEE"),
    ("吳", "吴", "NG", "NG", "WU"), ("劉", "刘", "LAU", "LAO", "LIU"), ("林", "林", "LAM", "LAM", "LIN"),
    ("王", "王", "WONG", "WONG", "WANG"), ("梁", "梁", "LEUNG", "LEONG", "LIANG"), ("何", "何", "HO", "HO", "HO"),
    ("鄭", "郑", "CHENG", "CHEANG", "CHENG"), ("楊", "杨", "YEUNG", "IEONG", "YANG"),
    ("周", "周", "CHOW", "CHAO", "CHOU"), ("許", "许", "HUI", "HOI", "HSU"), ("謝", "谢", "TSE", "CHE", "HSIEH"),
    ("郭", "郭", "KWOK", "KUOK", "KUO"), ("曾", "曾", "TSANG", "CHANG", "TSENG"), ("蔡", "蔡", "CHOI", "CHOI", "TSAI"),
    ("鄧", "邓", "TANG", "TANG", "TENG"), ("葉", "叶", "YIP", "IP", "YEH"), ("馮", "冯", "FUNG", "FONG", "FENG"),
    ("羅", "罗", "LAW", "LO", "LO"), ("盧", "卢", "LO", "LOU", "LU"), ("朱", "朱", "CHU", "CHU", "CHU"),
    ("徐", "徐", "TSUI", "CHUI", "HSU"), ("蘇", "苏", "SO", "SOU", "SU"), ("潘", "潘", "POON", "PUN", "PAN"),
    ("麥", "麦", "MAK", "MAK", "MAI"), ("余", "余", "YU", "U", "YU"), ("莊", "庄", "CHONG", "CHONG", "CHUANG"),
    ("廖", "廖", "LIU", "LIO", "LIAO"), ("賴", "赖", "LAI", "LAI", "LAI"), ("洪", "洪", "HUNG", "HONG", "HUNG"),
    ("邱", "邱", "YAU", "IAO", "CHIU"), ("江", "江", "KONG", "KONG", "CHIANG"), ("呂", "吕", "LUI", "LOI", "LU"),
)
# (traditional, simplified, Cantonese spelling, Wade-Giles, sex preference M/F/U)
HMT_GIVEN: tuple[tuple[str, str, str, str, str], ...] = (
    ("家", "家", "KA", "CHIA", "U"), ("嘉", "嘉", "KA", "CHIA", "U"), ("志", "志", "CHI", "CHIH", "M"),
    ("子", "子", "TSZ", "TZU", "U"), ("偉", "伟", "WAI", "WEI", "M"), ("國", "国", "KWOK", "KUO", "M"),
    ("永", "永", "WING", "YUNG", "M"), ("詠", "咏", "WING", "YUNG", "F"), ("美", "美", "MEI", "MEI", "F"),
    ("麗", "丽", "LAI", "LI", "F"), ("小", "小", "SIU", "HSIAO", "F"), ("大", "大", "TAI", "TA", "M"),
    ("文", "文", "MAN", "WEN", "M"), ("明", "明", "MING", "MING", "M"), ("強", "强", "KEUNG", "CHIANG", "M"),
    ("豪", "豪", "HO", "HAO", "M"), ("欣", "欣", "YAN", "HSIN", "F"), ("琪", "琪", "KEI", "CHI", "F"),
    ("玲", "玲", "LING", "LING", "F"), ("儀", "仪", "YEE", "YI", "F"), ("俊", "俊", "CHUN", "CHUN", "M"),
    ("傑", "杰", "KIT", "CHIEH", "M"), ("健", "健", "KIN", "CHIEN", "M"), ("華", "华", "WAH", "HUA", "U"),
    ("芬", "芬", "FUN", "FEN", "F"), ("敏", "敏", "MAN", "MIN", "F"), ("慧", "慧", "WAI", "HUI", "F"),
    ("婷", "婷", "TING", "TING", "F"), ("浩", "浩", "HO", "HAO", "M"), ("思", "思", "SZE", "SSU", "U"),
    ("穎", "颖", "WING", "YING", "F"), ("恩", "恩", "YAN", "EN", "F"), ("德", "德", "TAK", "TE", "M"),
    ("輝", "辉", "FAI", "HUI", "M"), ("雄", "雄", "HUNG", "HSIUNG", "M"), ("冠", "冠", "KWUN", "KUAN", "M"),
    ("淑", "淑", "SHUK", "SHU", "F"), ("佩", "佩", "PUI", "PEI", "F"), ("詩", "诗", "SZE", "SHIH", "F"),
    ("怡", "怡", "YI", "YI", "F"), ("君", "君", "KWAN", "CHUN", "F"), ("宗", "宗", "CHUNG", "TSUNG", "M"),
    ("翰", "翰", "HON", "HAN", "M"), ("宏", "宏", "WANG", "HUNG", "M"), ("秀", "秀", "SAU", "HSIU", "F"),
    ("惠", "惠", "WAI", "HUI", "F"), ("雅", "雅", "NGA", "YA", "F"),
)
HK_ENGLISH_NAMES: dict[str, tuple[str, ...]] = {
    "M": ("PETER", "DAVID", "JOHN", "MICHAEL", "KELVIN", "WILLIAM", "ERIC", "JASON", "ALAN", "KEN"),
    "F": ("MARY", "JENNY", "CHRISTINE", "WINNIE", "CANDY", "IVY", "KAREN", "GRACE", "JOYCE", "VIVIAN"),
}

# ------------------------------------------------------------------ foreigners
# (alpha-3, ISO 3166 numeric, culture, passport template: A letter, # digit)
NATIONALITIES: tuple[tuple[str, str, str, str], ...] = (
    ("KOR", "410", "korean", "M########"), ("USA", "840", "anglo", "#########"),
    ("JPN", "392", "japanese", "AA#######"), ("GBR", "826", "anglo", "#########"),
    ("DEU", "276", "german", "C########"), ("RUS", "643", "russian", "#########"),
    ("CAN", "124", "anglo", "AA######"), ("AUS", "036", "anglo", "PA#######"),
    ("FRA", "250", "french", "##AA#####"), ("SGP", "702", "anglo", "K#######A"),
)
NATIONALITY_WEIGHTS: tuple[float, ...] = (0.28, 0.16, 0.14, 0.07, 0.07, 0.07, 0.06, 0.06, 0.05, 0.04)

# culture -> (surnames, male given, female given), each (latin, Chinese transliteration)
FOREIGN_NAMES: dict[str, tuple[tuple[tuple[str, str], ...], ...]] = {
    "anglo": (
        (("SMITH", "史密斯"), ("JOHNSON", "约翰逊"), ("WILLIAMS", "威廉姆斯"), ("BROWN", "布朗"), ("JONES", "琼斯"),
         ("MILLER", "米勒"), ("DAVIS", "戴维斯"), ("WILSON", "威尔逊"), ("TAYLOR", "泰勒"), ("ANDERSON", "安德森")),
        (("JOHN", "约翰"), ("MICHAEL", "迈克尔"), ("DAVID", "大卫"), ("JAMES", "詹姆斯"), ("ROBERT", "罗伯特"),
         ("DANIEL", "丹尼尔")),
        (("MARY", "玛丽"), ("JENNIFER", "珍妮弗"), ("SARAH", "莎拉"), ("EMILY", "艾米丽"), ("JESSICA", "杰西卡"),
         ("ANNA", "安娜")),
    ),
    "korean": (
        (("KIM", "金"), ("LEE", "李"), ("PARK", "朴"), ("CHOI", "崔"), ("JUNG", "郑"), ("KANG", "姜"), ("CHO", "赵"),
         ("YOON", "尹")),
        (("MINJUN", "敏俊"), ("JIHOON", "志勋"), ("HYUNWOO", "贤宇"), ("SEUNGHO", "承浩"), ("DONGHYUN", "东贤")),
        (("SEOYEON", "瑞妍"), ("JIWOO", "智友"), ("SUBIN", "秀彬"), ("YEJIN", "艺珍"), ("MINJI", "敏智")),
    ),
    "japanese": (
        (("SATO", "佐藤"), ("SUZUKI", "铃木"), ("TAKAHASHI", "高桥"), ("TANAKA", "田中"), ("WATANABE", "渡边"),
         ("ITO", "伊藤"), ("YAMAMOTO", "山本"), ("NAKAMURA", "中村")),
        (("HIROSHI", "浩"), ("TAKESHI", "武"), ("KENJI", "健二"), ("DAISUKE", "大辅"), ("KAZUKI", "一树")),
        (("YUKI", "由纪"), ("AKIKO", "明子"), ("YUMI", "由美"), ("SAKURA", "樱"), ("NAOKO", "直子")),
    ),
    "german": (
        (("MULLER", "穆勒"), ("SCHMIDT", "施密特"), ("SCHNEIDER", "施耐德"), ("FISCHER", "菲舍尔"), ("WEBER", "韦伯")),
        (("THOMAS", "托马斯"), ("STEFAN", "斯特凡"), ("ANDREAS", "安德烈亚斯"), ("MARKUS", "马库斯")),
        (("ANNA", "安娜"), ("SABINE", "萨比娜"), ("JULIA", "尤利娅"), ("KATRIN", "卡特琳")),
    ),
    "russian": (
        (("IVANOV", "伊万诺夫"), ("SMIRNOV", "斯米尔诺夫"), ("KUZNETSOV", "库兹涅佐夫"), ("POPOV", "波波夫")),
        (("ALEXANDER", "亚历山大"), ("DMITRY", "德米特里"), ("SERGEY", "谢尔盖"), ("ANDREY", "安德烈")),
        (("OLGA", "奥尔加"), ("NATALIA", "娜塔莉亚"), ("ELENA", "叶莲娜"), ("IRINA", "伊琳娜")),
    ),
    "french": (
        (("MARTIN", "马丁"), ("BERNARD", "贝尔纳"), ("DUBOIS", "杜布瓦"), ("LEROY", "勒鲁瓦"), ("MOREAU", "莫罗")),
        (("PIERRE", "皮埃尔"), ("NICOLAS", "尼古拉"), ("JULIEN", "朱利安"), ("LOUIS", "路易")),
        (("MARIE", "玛丽"), ("CAMILLE", "卡米耶"), ("SOPHIE", "索菲"), ("CLAIRE", "克莱尔")),
    ),
}
# East Asian cultures write the Chinese form surname first without a dot.
SURNAME_FIRST_CULTURES: tuple[str, ...] = ("korean", "japanese")

# ------------------------------------------------------------------ provinces
# code prefix -> (2020 census population in millions, court abbreviation, capital area code)
PROVINCES: dict[str, tuple[float, str, str]] = {
    "11": (21.9, "京", "010"), "12": (13.9, "津", "022"), "13": (74.6, "冀", "0311"), "14": (34.9, "晋", "0351"),
    "15": (24.0, "内", "0471"), "21": (42.6, "辽", "024"), "22": (24.1, "吉", "0431"), "23": (31.9, "黑", "0451"),
    "31": (24.9, "沪", "021"), "32": (84.7, "苏", "025"), "33": (64.6, "浙", "0571"), "34": (61.0, "皖", "0551"),
    "35": (41.5, "闽", "0591"), "36": (45.2, "赣", "0791"), "37": (101.5, "鲁", "0531"), "41": (99.4, "豫", "0371"),
    "42": (57.8, "鄂", "027"), "43": (66.4, "湘", "0731"), "44": (126.0, "粤", "020"), "45": (50.1, "桂", "0771"),
    "46": (10.1, "琼", "0898"), "50": (32.1, "渝", "023"), "51": (83.7, "川", "028"), "52": (38.6, "黔", "0851"),
    "53": (47.2, "云", "0871"), "54": (3.6, "藏", "0891"), "61": (39.5, "陕", "029"), "62": (25.0, "甘", "0931"),
    "63": (5.9, "青", "0971"), "64": (7.2, "宁", "0951"), "65": (25.9, "新", "0991"),
}
# Extra pull of the big cities for people who moved.
MIGRATION_PULL: dict[str, float] = {"11": 3.0, "31": 3.0, "44": 2.5, "33": 2.0, "32": 1.8, "12": 1.5, "50": 1.3}

# ------------------------------------------------------------------- phones
MOBILE_PREFIXES: tuple[int, ...] = (
    134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 157, 158, 159, 178, 182, 183, 184, 187, 188, 198,
    130, 131, 132, 145, 155, 156, 166, 175, 176, 185, 186, 133, 149, 153, 173, 177, 180, 181, 189, 191, 199,
)

# ---------------------------------------------------------------- addresses
STREETS: tuple[str, ...] = (
    "人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "胜利路", "文化路", "东风路", "长江路",
    "朝阳路", "光明路", "幸福路", "青年路", "建国路", "五一路", "滨江路", "北京路", "工业路", "学府路",
    "人民大道", "迎宾大道", "府前街", "南大街", "北大街", "西关街", "东环路", "北环路", "站前路", "体育路",
)
COMMUNITIES: tuple[str, ...] = (
    "阳光花园", "锦绣家园", "翠湖苑", "金色家园", "和谐家园", "幸福里", "碧水湾", "滨江花园", "世纪新城",
    "绿城小区", "紫荆花园", "明珠苑", "书香门第", "康乐小区", "教师新村",
)
TOWNS: tuple[str, ...] = ("城关", "新城", "永安", "太平", "东城", "河西", "白沙", "石桥", "龙泉", "青山", "三河", "清水")
VILLAGES: tuple[str, ...] = ("建设", "新民", "红旗", "前进", "和平", "团结", "胜利", "东风", "向阳", "张庄", "李家", "王营")
