"""Free space in the pages of the rollup tables every apply batch updates, so that their updates
stay HOT (see events 0010 and db.storage)."""

from django.db import migrations

from watchtime.db.storage import fillfactor


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_initial"),
    ]

    operations = [
        fillfactor((
            "analytics_view", "analytics_usermoviehour", "analytics_usermovieday", "analytics_userhour", "analytics_userday",
            "analytics_moviehour", "analytics_movieday", "analytics_moviedayreach", "analytics_hour", "analytics_day",
            "analytics_retentionbin",
        )),
    ]
