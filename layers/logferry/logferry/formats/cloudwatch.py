"""Mail logs sent to CloudWatch Logs and delivered to S3 by a Firehose subscription, every log
group read as mail (`--format cloudwatch-mail`, or a LOGFERRY_FORMAT_PREFIXES prefix).

Each object holds one or more gzip members, each a JSON envelope, concatenated without a
separator (or with newlines):

    {"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/mail/maillog",
     "logStream":"i-0abc","subscriptionFilters":["mail"],
     "logEvents":[{"id":"3737...","timestamp":1323962839000,"message":"Dec 15 15:27:19 smtp
     sendmail[19936]: pBFERI8l019936: from=<bob@foo.com>, ..."}]}

It is the reader of CloudWatch Logs subscription data (logferry.formats.cloudwatch_logs, which
detection picks for any envelope and which finds mail log groups by their messages) with the
format of every log group fixed to mail: each event's message goes to the postfix or the
sendmail parser by its syslog program tag, or, without the syslog header, by its content (the
shape of the queue id, sendmail's `stat=`/`ruleset=`), taking its time from the event's
`timestamp` and its host from the log stream. The lines reduce to transactions as in a maillog
file.
"""

from __future__ import annotations

from ..model import ParseContext
from .cloudwatch_logs import CloudWatchLogsFormat, LogGroup
from .envelopes import program_of, split_envelopes
from .mailbase import MailFormat
from .postfix import FORMAT as POSTFIX

__all__ = ["FORMAT", "CloudWatchMailFormat", "program_of", "split_envelopes"]


class CloudWatchMailFormat(CloudWatchLogsFormat):
    name = "cloudwatch-mail"
    index_source = "mail"
    from_aws = False  # mail servers' logs, shipped through CloudWatch Logs

    @property
    def dataset(self) -> str:
        return "mail.cloudwatch"

    def group(self, name: str, first_message: str, ctx: ParseContext) -> LogGroup:
        assert isinstance(POSTFIX, MailFormat)
        return LogGroup(POSTFIX)


FORMAT = CloudWatchMailFormat()
