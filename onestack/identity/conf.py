import dataclasses

from onestack import conf


@dataclasses.dataclass
class IdentityConf:
    token_expiration: int = 3600            # seconds
    allow_expired_window: int = 172800      # ?allow_expired=1 honours tokens this long past expiry
    password_hash_rounds: int = 12          # bcrypt cost (upstream default 12; 4..31)
    max_password_length: int = 4096
    fernet_max_active_keys: int = 3
    admin_password: str = ""                # default: generated once, kept in STATE_DIR/clouds.yaml
    demo_password: str = ""
    token_cache_size: int = 10000
    # PCI-DSS style options (upstream [security_compliance]); 0/"" = off as upstream.
    lockout_failure_attempts: int = 0
    lockout_duration: int = 1800
    password_expires_days: int = 0
    unique_last_password_count: int = 0
    minimum_password_age: int = 0
    password_regex: str = ""
    password_regex_description: str = ""
    change_password_upon_first_use: bool = False
    disable_user_account_days_inactive: int = 0


conf.register_section("identity", IdentityConf)
